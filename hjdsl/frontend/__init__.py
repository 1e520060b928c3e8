"""The front end: grammar, parser, syntax tree, checker, diagnostics."""
