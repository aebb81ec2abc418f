"""Development aids: the figures the README tells how to rerun."""
