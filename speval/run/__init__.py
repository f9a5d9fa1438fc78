"""What one run is: the reporting quarter, the programme and the evaluation's vocabulary, the typed
run specification, and the lock that gives a run its warehouse alone."""
