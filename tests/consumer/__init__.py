"""Tests of wechat_async.consumer."""
