"""The IMAP4rev1 server actor and the per-user metadata store."""
