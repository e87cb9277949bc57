"""What people read: terminal tables, paper-style markdown tables, plots and the HTML report."""
