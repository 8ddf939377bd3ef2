"""What a fold can raise. Apart from the folds themselves, which are compiled when a native build
exists (``services.native``): mypyc compiles no class derived from ``RuntimeError``."""


class StreamGap(RuntimeError):
    """An event arrived whose predecessor the view has not seen: something was skipped."""
