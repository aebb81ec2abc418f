"""Views: pure functions from the shop's data to a message text and its keyboard, used by the
conversation and by the alerts alike."""
