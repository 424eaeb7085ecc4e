"""What no notebook imports: the ``precmed`` command (``cli``), executing notebooks and building the
book (``runner``), parameter sweeps (``sweep``), benchmarks (``benchmark``) and the teaching
material (``teaching``)."""
