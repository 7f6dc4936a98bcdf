"""PDF documents rendered with reportlab: receipts, reports, fax cover sheets."""
