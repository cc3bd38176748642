"""Tools built on the library: selection procedures (``tune``) and the model zoo (``zoo``)."""
