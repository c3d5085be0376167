"""Payers and their plans: who claims go to, with the claims address and the filing and appeal limits the
claims work reads; plans under each payer. Records are deactivated, never deleted.

May import: models, audit. Never views.
"""
from portal.payers.records import LIMIT_DAYS, PayerError, all_payers, plans_of, save_payer, save_plan

__all__ = ["LIMIT_DAYS", "PayerError", "all_payers", "plans_of", "save_payer", "save_plan"]
