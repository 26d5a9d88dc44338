"""Storage backends behind one EventStore protocol."""
