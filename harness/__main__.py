"""``python -m harness`` (or ``optlab``): the lab's command line, in :mod:`harness.cli.main`."""

from harness.cli.main import main

if __name__ == "__main__":
    main()
