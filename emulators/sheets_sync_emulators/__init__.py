"""Loopback emulators of the services sheets-sync talks to, for tests and for trying the tool
without accounts: the Google Sheets API (``sheets_sync_emulators.google_sheets``) and the CRMs
amoCRM/Kommo, Bitrix24 and HubSpot (``sheets_sync_emulators.crm``).

A distribution of its own (``sheets-sync-emulators``): the product imports nothing from here.
"""

__version__ = "0.1.0"
