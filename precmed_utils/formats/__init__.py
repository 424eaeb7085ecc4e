"""Reading and checking data: the data registry (``data``, ``datasets.yml``), the table, corpus
and EHR readers with their format checks (``tables``, ``corpora``, ``ehr``, ``ehr_formats``,
``checkdata``) and the phenotype definitions (``phenotypes``, ``phenotypes.yml``)."""
