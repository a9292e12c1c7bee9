"""Running Milepost under gunicorn from the `milepost serve` command."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


class MilepostServer(BaseApplication):
    """A gunicorn application that builds Milepost in each worker."""

    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from milepost.factory import create_app

        return create_app()


def run_gunicorn(bind: str, workers: int) -> None:
    """Serve until interrupted."""
    MilepostServer({"bind": bind, "workers": workers, "accesslog": "-", "timeout": 60}).run()
