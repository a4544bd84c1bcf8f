"""``python -m monitor.cli``, as the tests run it."""

from monitor.cli import app

if __name__ == "__main__":  # not when a module walk (the wheel test) imports it
    app()
