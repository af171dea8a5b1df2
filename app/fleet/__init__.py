"""The fleet as a viewer sees it: the sites they may see and each site's state at a glance."""
