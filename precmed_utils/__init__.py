"""precmed_utils: the thin shared package behind the precmed reproduction book.

Importing this package is cheap and has no side effects (no seeding, styling, printing or
downloads). Import the submodules you need:

- ``precmed_utils.studies``   the study catalogue (study ids, the papers' reported values) and, in
  its submodules, the code of one study each (``heart_failure``, ``deid``, ``signals``, ...)
- ``precmed_utils.formats``   reading and checking data: the data registry (``formats.data``), the
  table, corpus and EHR readers, phenotype definitions
- ``precmed_utils.text``      the shared sequence-labelling toolkit (tokens, tags, tagger, span metrics)
- ``precmed_utils.tools``     what no notebook imports: the ``precmed`` command (``tools.cli``),
  running notebooks and building the book (``tools.runner``), sweeps, benchmarks, teaching
- ``precmed_utils.params``    parameter specs (parsed from each notebook), profiles, validation
- ``precmed_utils.seeding``   seeding and device choice
- ``precmed_utils.metrics``   metrics shared by several studies
- ``precmed_utils.results``   metrics JSON, run manifest, paper-versus-ours tables, claim verdicts
- ``precmed_utils.plotting``  the book's seaborn theme
"""

__version__ = "0.1.0"
