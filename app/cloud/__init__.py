"""Cloud provisioning: one provider interface per capability (`base.py`), one module per
provider, chosen by `cloud_service_code` (`providers.py`)."""
