"""The shared vocabulary: types every layer speaks, importing nothing of the project.

Errors and exit codes, the injected clock, dashboard names and severities,
validation issues, freshness states and ages, spans of time, file locations.
"""
