"""The codes of 999 and 277CA acknowledgments, in words (short lists: the codes a clearinghouse or payer sends).

999 (005010X231A1): IK304 segment errors, IK403 element errors, IK501/AK901 acknowledgment codes and IK502
transaction set errors, from the X12 element lists 620, 621, 717/715 and 618. 277CA (005010X214): claim
status category codes (external code list 507, the acknowledgment group A0-A8) and a few claim status codes
(external code list 508); an unknown code is shown as the code itself."""

SEGMENT_ERRORS = {  # IK304
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": 'implementation "not used" segment present',
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": 'implementation dependent "not used" segment present',
}

ELEMENT_ERRORS = {  # IK403
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": 'implementation "not used" data element present',
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": 'implementation dependent "not used" data element present',
}

ACKNOWLEDGMENT_CODES = {  # IK501 and AK901 (P only in AK901)
    "A": "accepted",
    "E": "accepted but errors were noted",
    "P": "partially accepted, at least one transaction set was rejected",
    "R": "rejected",
    "M": "rejected, message authentication code failed",
    "W": "rejected, assurance failed validity tests",
    "X": "rejected, content after decryption could not be analyzed",
}
REJECTED = {"R", "M", "W", "X"}

TRANSACTION_SET_ERRORS = {  # IK502-IK506
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "I5": "implementation one or more segments in error",
    "I6": "implementation convention not supported",
}

STATUS_CATEGORIES = {  # STC01-1
    "A0": "forwarded: the claim has been forwarded to another entity",
    "A1": "received: the claim has been received (not yet necessarily accepted for adjudication)",
    "A2": "accepted into the adjudication system",
    "A3": "returned as unprocessable: rejected and not entered into the adjudication system",
    "A4": "not found: the claim cannot be found in the adjudication system",
    "A5": "split: the claim has been split upon acceptance into the adjudication system",
    "A6": "rejected for missing information",
    "A7": "rejected for invalid information",
    "A8": "rejected for a relational field in error",
}
ACCEPTED_CATEGORIES = {"A1", "A2"}
REJECTED_CATEGORIES = {"A3", "A4", "A6", "A7", "A8"}

STATUS_CODES = {  # STC01-2, a few common ones
    "16": "claim has been forwarded to entity",
    "19": "entity acknowledges receipt of claim",
    "20": "accepted for processing",
    "21": "missing or invalid information",
    "35": "claim not found",
    "97": "patient eligibility not found with entity",
    "684": "rejected: syntax error noted for this claim (see the 999 for details)",
}


def words(table: dict[str, str], code: str) -> str:
    """The code's meaning, or the code itself when the list does not have it."""
    return table.get(code, f"code {code}") if code else "no code given"
