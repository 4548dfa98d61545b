"""Review: agile iteration review of innovation cases (timeboxed review tasks in a queue)."""
