"""Economic and social value: costs avoided, value for money (ROI, payback) and the social return (SROI)."""
