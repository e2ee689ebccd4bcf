"""Deal and people import from CSV or XLSX files: reading, column mapping, validation and writing.

`salesteam.importing.services` holds the functions the pages, the API, the commands and the Celery task
call; the other modules are its parts.
"""
