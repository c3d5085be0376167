"""People who sign in: logins and roles (`users`), guarantors creating their own login (`registration`),
forgotten passwords (`password_reset`).
May import: models, mail, audit, permissions. Never views.
"""
