"""Command-line tools that talk to a job server: gearadmin-py."""
