"""What each environment costs per month, estimated offline from its synthesized templates.

`prices.py` reads the committed price file of a region (`prices/<region>.json`), `rules.py`
prices one resource type each (or names it free, with the reason), `estimate.py` adds them up
per stack and environment, `refresh.py` rewrites the price file from the AWS Price List API
(`make prices`). Anything without a rule or a price is listed as "not priced", never zero.
"""
