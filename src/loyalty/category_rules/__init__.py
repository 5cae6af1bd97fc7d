"""Category rules: earn percent and exclusions per product folder or product."""
