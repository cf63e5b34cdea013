"""Clinical intelligence: validated risk and ageing scores (``axhub.clinical.scores``).

Everything here works on whole population tables (Arrow / NumPy), never per person.
"""
