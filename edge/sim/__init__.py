"""Site simulator: a physically plausible LFP BMS speaking the reference protocol."""
