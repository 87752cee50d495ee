"""`codecosts`: the operator's command line. One module per subcommand, registered in `main.py`."""
