"""The CMS place-of-service code set (the codes a behavioral-health facility can plausibly bill with).

A location's code goes on professional claims (837P loop 2300 CLM05-1); an unknown code is refused there,
so it is refused here first.
"""
PLACES_OF_SERVICE = {
    "02": "Telehealth provided other than in the patient's home",
    "03": "School",
    "04": "Homeless shelter",
    "10": "Telehealth provided in the patient's home",
    "11": "Office",
    "12": "Home",
    "14": "Group home",
    "15": "Mobile unit",
    "16": "Temporary lodging",
    "18": "Place of employment / worksite",
    "19": "Off-campus outpatient hospital",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "On-campus outpatient hospital",
    "23": "Emergency room - hospital",
    "27": "Outreach site / street",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "33": "Custodial care facility",
    "49": "Independent clinic",
    "50": "Federally qualified health center",
    "51": "Inpatient psychiatric facility",
    "52": "Psychiatric facility - partial hospitalization",
    "53": "Community mental health center",
    "54": "Intermediate care facility / individuals with intellectual disabilities",
    "55": "Residential substance abuse treatment facility",
    "56": "Psychiatric residential treatment center",
    "57": "Non-residential substance abuse treatment facility",
    "58": "Non-residential opioid treatment facility",
    "71": "Public health clinic",
    "72": "Rural health clinic",
    "99": "Other place of service",
}


def describe(code: str) -> str:
    return f"{code} {PLACES_OF_SERVICE.get(code, 'unknown')}"
