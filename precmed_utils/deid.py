"""De-identification: the PhysioNet deid corpus, i2b2 2014 XML, and writing de-identified copies.

(Being written: deidentification.)
"""
