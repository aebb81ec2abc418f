"""What runs beside the conversation: the paced sender, the alert center, the scheduled jobs and
the in-flight registry that lets a stop finish them."""
