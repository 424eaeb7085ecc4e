"""precmed_utils: the thin shared package behind the precmed reproduction book.

Importing this package is cheap and has no side effects (no seeding, styling, printing or
downloads). Import the submodules you need:

- ``precmed_utils.studies``  the study registry and the papers' reported values
- ``precmed_utils.params``   parameter specs (parsed from each notebook), profiles, validation
- ``precmed_utils.seeding``  seeding and device choice
- ``precmed_utils.data``     the data registry (checksums, licences, loaders)
- ``precmed_utils.metrics``  metrics shared by several studies
- ``precmed_utils.signals``  disproportionality measures and report-level counting (pharmacovigilance)
- ``precmed_utils.results``  metrics JSON, run manifest, paper-versus-ours tables, claim verdicts
- ``precmed_utils.plotting`` the book's seaborn theme
- ``precmed_utils.runner``   executing notebooks with papermill and building the book
- ``precmed_utils.cli``      the ``precmed`` command
"""

__version__ = "0.1.0"
