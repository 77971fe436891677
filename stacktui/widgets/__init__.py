"""Small reusable Textual widgets for the wizard and the dashboard."""
