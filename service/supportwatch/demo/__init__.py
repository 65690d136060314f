"""The offline demo: supportwatch on example data, served from 127.0.0.1 (``supportwatch demo``).

One noun per module; import from them (this package imports nothing, so the web app can read
the mailbox without loading the SMTP server):

- ``examples``: the example data in ``data/``: the vendor's formats with dates as offsets in
  days from today (``render_vendor_files(today)``), the example deployments (a config fragment
  raising every deployment finding kind) and the demo's config (``render_config``).
- ``vendor``: ``VendorServer``, serving the rendered files over HTTP with ETag/Last-Modified.
- ``sink``: ``MailSink``, an SMTP server storing each message as an ``.eml`` file.
- ``mailbox``: ``Mailbox``, listing and reading those files (standard library only).
- ``runner``: ``start_demo(folder, today=..., web_port=...) -> Demo``, all of it at once.

The generated config carries ``example_data: true`` (``examples.DEMO_SETTINGS_FLAG``) once the
settings model has that key (``runner.flag_supported()``); ``Demo.example_data`` says it always.
"""
