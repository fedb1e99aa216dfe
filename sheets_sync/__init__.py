"""sheets-sync: CRM clients into a shared sheet, categorized by your rules, back to the CRM."""

__version__ = "0.1.0"
