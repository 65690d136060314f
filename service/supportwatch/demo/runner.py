"""``start_demo``: the demo's folder, config, vendor server and mail sink, ready to run against.

The config it writes is an ordinary one (``load_settings`` reads it, and it is checked that
way before ``start_demo`` returns), so the service runs on example data exactly as it runs in
production: it polls the loopback vendor server through its own fetcher and address guard,
and delivers email through its own SMTP notifier to the mail sink.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Self

from supportwatch.config import Settings, load_settings
from supportwatch.demo.examples import (
    DEMO_SETTINGS_FLAG,
    DEPLOYMENTS_FILE,
    deployments_yaml,
    render_config,
    render_vendor_files,
)
from supportwatch.demo.mailbox import Mailbox
from supportwatch.demo.sink import MailSink
from supportwatch.demo.vendor import VendorServer

CONFIG_FILE = "supportwatch.yaml"
DATABASE_FILE = "supportwatch.db"
MAILBOX_DIR = "mail"


def flag_supported() -> bool:
    """Whether the settings model has the ``example_data`` key yet (it refuses unknown keys)."""
    return DEMO_SETTINGS_FLAG in Settings.model_fields


@dataclass
class Demo:
    """A running demo: its files, its two loopback servers, and where the dashboard will be.

    ``example_data`` is always True: the web and notify layers label what they show from it
    (or from the config's ``example_data: true``, which is written when ``flag_in_config``).
    """

    folder: Path
    config_path: Path
    today: date
    vendor: VendorServer
    sink: MailSink
    web_url: str
    flag_in_config: bool
    example_data: bool = True

    @property
    def mailbox(self) -> Mailbox:
        return self.sink.mailbox

    @property
    def mailbox_dir(self) -> Path:
        return self.sink.folder

    @property
    def vendor_url(self) -> str:
        return self.vendor.url

    @property
    def smtp_port(self) -> int:
        return self.sink.port

    def describe(self) -> str:
        """What the demo runs, for the command line to print."""
        return "\n".join(
            [
                f"supportwatch demo on EXAMPLE DATA dated for {self.today.isoformat()} (all on 127.0.0.1)",
                f"  dashboard:      {self.web_url}",
                f"  config:         {self.config_path}",
                f"  vendor sources: {self.vendor_url}/ (example version feeds, Helm index, release notes)",
                f"  mail sink:      smtp://127.0.0.1:{self.smtp_port}, messages in {self.mailbox_dir}",
                "  one source (runtime-notes) fails on purpose: it shows how the dashboard, check and",
                "  alerts report a source that never answers",
            ]
        )

    def close(self) -> None:
        """Stop both servers (idempotent); the folder and its files stay."""
        try:
            self.vendor.close()
        finally:
            self.sink.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def start_demo(folder: Path, *, today: date, web_port: int) -> Demo:
    """Write the demo's config into ``folder``, start its vendor server and mail sink.

    The example releases are dated relative to ``today`` (pass the day in the config's time
    zone, UTC: ``datetime.now(UTC).date()``). The config (``supportwatch.yaml``) puts the
    SQLite database and the mailbox in ``folder``, reads every source from the vendor server,
    sends email to the sink and serves the web app on ``127.0.0.1:web_port``. Raises
    ``ConfigError`` if the written config does not load (both servers are stopped then).
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    vendor = VendorServer(render_vendor_files(today)).start()
    try:
        sink = MailSink(folder / MAILBOX_DIR).start()
    except BaseException:
        vendor.close()
        raise
    demo = Demo(
        folder=folder,
        config_path=folder / CONFIG_FILE,
        today=today,
        vendor=vendor,
        sink=sink,
        web_url=f"http://127.0.0.1:{web_port}/",
        flag_in_config=flag_supported(),
    )
    try:
        (folder / DEPLOYMENTS_FILE).write_bytes(deployments_yaml())
        demo.config_path.write_text(
            render_config(
                today=today,
                database_url=f"sqlite:///{(folder / DATABASE_FILE).as_posix()}",
                vendor_url=vendor.url,
                smtp_port=sink.port,
                web_port=web_port,
                flag=demo.flag_in_config,
            ),
            encoding="utf-8",
        )
        load_settings(demo.config_path)
    except BaseException:
        demo.close()
        raise
    return demo
