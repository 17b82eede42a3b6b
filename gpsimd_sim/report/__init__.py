"""What a run tells the user: bounds and the limiting resource, the summary, the JSON result."""
