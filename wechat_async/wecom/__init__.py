"""WeCom (企业微信) services: Kf (微信客服), Media, Tag, User, AppChat."""
