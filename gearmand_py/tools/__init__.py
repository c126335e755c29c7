"""Command-line tools that talk to a job server: gearadmin-py and gearman-py."""
