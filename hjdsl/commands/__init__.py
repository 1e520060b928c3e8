"""One module per CLI verb: HELP, DESCRIPTION, configure(parser), run(args)."""
