"""Process and console plumbing every layer above may use: several processes under a launcher (``dist``) and the
progress bars, console and phase clock (``progress``). No torch at import time."""
