"""Kf responses shaped as WeChat's documentation shows them (developer.work.weixin.qq.com)."""

from __future__ import annotations

from typing import Any

ACCOUNT_LIST: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "account_list": [
        {
            "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
            "name": "咨询客服",
            "avatar": "https://wework.qpic.cn/wwhead/duc2TvpEgSSjibPZlNR6chpx9W3dtd9Ogp8XEmSNKGa6uufMWn2239HUPuwIFoYYZ7Ph580FPvo8/0",
            "manage_privilege": True,
        }
    ],
}

SERVICER_RESULTS: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "result_list": [
        {"userid": "zhangsan", "errcode": 0, "errmsg": "success"},
        {"userid": "lisi", "errcode": 60111, "errmsg": "userid not found"},
        {"department_id": 2, "errcode": 0, "errmsg": "success"},
        {"department_id": 3, "errcode": 0, "errmsg": "ignored"},
    ],
}

SERVICER_LIST: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "servicer_list": [
        {"userid": "zhangsan", "status": 0},
        {"userid": "lisi", "status": 1, "stop_type": 1},
        {"department_id": 2},
        {"department_id": 3},
    ],
}

SYNC_MSG: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "next_cursor": "4gw7MepFLfgF2VC5npN",
    "has_more": 0,
    "msg_list": [
        {
            "msgid": "from_msgid_4622416642169452483",
            "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
            "external_userid": "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw",
            "send_time": 1615478585,
            "origin": 3,
            "msgtype": "text",
            "text": {"content": "你好", "menu_id": "101"},
        },
        {
            "msgid": "m2",
            "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
            "external_userid": "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw",
            "send_time": 1615478585,
            "origin": 3,
            "msgtype": "image",
            "image": {"media_id": "2iSLeVyqzk4eX0IB5kTi9Ljfa2rt9dwfq5WKRQ4Nvvgw"},
        },
        {
            "msgid": "m3",
            "send_time": 1615478585,
            "origin": 3,
            "msgtype": "voice",
            "voice": {"media_id": "VOICE_ID"},
        },
        {"msgid": "m4", "origin": 3, "msgtype": "video", "video": {"media_id": "VIDEO_ID"}},
        {"msgid": "m5", "origin": 3, "msgtype": "file", "file": {"media_id": "FILE_ID"}},
        {
            "msgid": "m6",
            "origin": 3,
            "msgtype": "location",
            "location": {
                "latitude": 23.106021881103501,
                "longitude": 113.32454681396499,
                "name": "广州国际媒体港(广州市海珠区)",
                "address": "广东省广州市海珠区滨江东路",
            },
        },
        {
            "msgid": "m7",
            "origin": 3,
            "msgtype": "link",
            "link": {"title": "TITLE", "desc": "DESC", "url": "URL", "pic_url": "PIC_URL"},
        },
        {
            "msgid": "m8",
            "origin": 3,
            "msgtype": "business_card",
            "business_card": {"userid": "USERID"},
        },
        {
            "msgid": "m9",
            "origin": 3,
            "msgtype": "miniprogram",
            "miniprogram": {
                "title": "TITLE",
                "appid": "APPID",
                "pagepath": "PAGE_PATH",
                "thumb_media_id": "THUMB_MEDIA_ID",
            },
        },
        {
            "msgid": "m10",
            "origin": 5,
            "servicer_userid": "zhangsan",
            "msgtype": "msgmenu",
            "msgmenu": {
                "head_content": "您对本次服务是否满意呢? ",
                "list": [
                    {"type": "click", "click": {"id": "101", "content": "满意"}},
                    {"type": "click", "click": {"id": "102", "content": "不满意"}},
                ],
                "tail_content": "欢迎再次光临",
            },
        },
        {
            "msgid": "m11",
            "origin": 3,
            "msgtype": "channels_shop_product",
            "channels_shop_product": {
                "product_id": "10000050000000",
                "head_image": "https://example.test/head.jpg",
                "title": "商品标题",
                "sales_price": "100",
                "shop_nickname": "店铺名称",
                "shop_head_image": "https://example.test/shop.jpg",
            },
        },
        {
            "msgid": "m12",
            "origin": 3,
            "msgtype": "channels_shop_order",
            "channels_shop_order": {
                "order_id": "3700000000000000",
                "product_titles": "商品标题1,商品标题2",
                "price_wording": "100.00元",
                "state": "已完成",
                "image_url": "https://example.test/order.jpg",
                "shop_nickname": "店铺名称",
            },
        },
        {
            "msgid": "m13",
            "origin": 3,
            "msgtype": "merged_msg",
            "merged_msg": {
                "title": "聊天记录标题",
                "item": [
                    {
                        "send_time": 1636340000,
                        "msgtype": "text",
                        "sender_name": "张三",
                        "msg_content": '{"text":{"content":"你好"}}',
                    }
                ],
            },
        },
        {
            "msgid": "m14",
            "origin": 3,
            "msgtype": "channels",
            "channels": {"sub_type": 1, "nickname": "视频号名称", "title": "视频号动态标题"},
        },
        {"msgid": "m15", "origin": 3, "msgtype": "note"},
        {
            "msgid": "m16",
            "send_time": 1615478585,
            "origin": 4,
            "msgtype": "event",
            "event": {
                "event_type": "enter_session",
                "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
                "external_userid": "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw",
                "scene": "123",
                "scene_param": "abc",
                "welcome_code": "aaaaaa",
                "wechat_channels": {"nickname": "进入会话的视频号名称", "scene": 1},
            },
        },
        {
            "msgid": "m17",
            "origin": 4,
            "msgtype": "event",
            "event": {
                "event_type": "msg_send_fail",
                "open_kfid": "OPEN_KFID",
                "external_userid": "EXTERNAL_USERID",
                "fail_msgid": "FAIL_MSGID",
                "fail_type": 4,
            },
        },
        {
            "msgid": "m18",
            "origin": 4,
            "msgtype": "event",
            # Servicer events carry no external_userid, and may lack open_kfid.
            "event": {
                "event_type": "servicer_status_change",
                "servicer_userid": "SERVICER_USERID",
                "status": 2,
                "stop_type": 1,
            },
        },
        {
            "msgid": "m19",
            "origin": 4,
            "msgtype": "event",
            "event": {
                "event_type": "session_status_change",
                "open_kfid": "OPEN_KFID",
                "external_userid": "EXTERNAL_USERID",
                "change_type": 1,
                "new_servicer_userid": "NEW_SERVICER_USERID",
                "msg_code": "MSG_CODE",
            },
        },
        {
            "msgid": "m20",
            "origin": 4,
            "msgtype": "event",
            "event": {
                "event_type": "user_recall_msg",
                "open_kfid": "OPEN_KFID",
                "external_userid": "EXTERNAL_USERID",
                "recall_msgid": "RECALL_MSGID",
            },
        },
        {
            "msgid": "m21",
            "origin": 4,
            "msgtype": "event",
            "event": {
                "event_type": "servicer_recall_msg",
                "open_kfid": "OPEN_KFID",
                "external_userid": "EXTERNAL_USERID",
                "recall_msgid": "RECALL_MSGID",
                "servicer_userid": "SERVICER_USERID",
            },
        },
        {
            "msgid": "m22",
            "origin": 4,
            "msgtype": "event",
            "event": {
                "event_type": "reject_customer_msg_switch_change",
                "servicer_userid": "SERVICER_USERID",
                "open_kfid": "OPEN_KFID",
                "external_userid": "EXTERNAL_USERID",
                "reject_switch": 1,
            },
        },
    ],
}

CUSTOMER_BATCH: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "customer_list": [
        {
            "external_userid": "wmxxxxxxxxxxxxxxxxxxxxxx",
            "nickname": "张三",
            "avatar": "http://xxxxx",
            "gender": 1,
            "unionid": "oxasdaosaosdasdasdasd",
            "enter_session_context": {
                "scene": "123",
                "scene_param": "abc",
                "wechat_channels": {"nickname": "进入会话的视频号名称", "scene": 1},
            },
        }
    ],
    "invalid_external_userid": ["zhangsan"],
}

UPGRADE_SERVICE_CONFIG: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "member_range": {"userid_list": ["zhangsan", "lisi"], "department_id_list": [2, 3]},
    "groupchat_range": {"chat_id_list": ["wraaaaaaaaaaaaaaaa", "wrbbbbbbbbbbbbbbb"]},
}

CORP_STATISTIC: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "statistic_list": [
        {
            "stat_time": 1645545600,
            "statistic": {
                "session_cnt": 2,
                "customer_cnt": 1,
                "customer_msg_cnt": 6,
                "upgrade_service_customer_cnt": 0,
                "ai_session_reply_cnt": 1,
                "ai_transfer_rate": 1,
                "ai_knowledge_hit_rate": 0,
                "msg_rejected_customer_cnt": 1,
            },
        },
        {"stat_time": 1645632000, "statistic": {"session_cnt": 0}},
    ],
}

SERVICER_STATISTIC: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "statistic_list": [
        {
            "stat_time": 1645545600,
            "statistic": {
                "session_cnt": 1,
                "customer_cnt": 1,
                "customer_msg_cnt": 1,
                "reply_rate": 1,
                "first_reply_average_sec": 5,
                "satisfaction_investgate_cnt": 1,
                "satisfaction_participation_rate": 1,
                "satisfied_rate": 1,
                "middling_rate": 0,
                "dissatisfied_rate": 0,
                "msg_rejected_customer_cnt": 0,
            },
        }
    ],
}

KNOWLEDGE_GROUPS: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "next_cursor": "NEXT_CURSOR",
    "has_more": 1,
    "group_list": [
        {"group_id": "GROUP_ID", "name": "NAME", "is_default": 1},
        {"group_id": "GROUP_ID2", "name": "NAME2", "is_default": 0},
    ],
}

KNOWLEDGE_INTENTS: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "next_cursor": "NEXT_CURSOR",
    "has_more": 0,
    "intent_list": [
        {
            "group_id": "GROUP_ID",
            "intent_id": "INTENT_ID",
            "question": {"text": {"content": "主问题"}},
            "similar_questions": {
                "items": [{"text": {"content": "相似问题1"}}, {"text": {"content": "相似问题2"}}]
            },
            "answers": [
                {
                    "text": {"content": "问题的回复"},
                    "attachments": [{"msgtype": "image", "image": {"name": "图片.jpg"}}],
                }
            ],
        }
    ],
}

CALLBACK_XML = (
    "<xml><ToUserName><![CDATA[ww12345678910]]></ToUserName>"
    "<CreateTime>1348831860</CreateTime>"
    "<MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[kf_msg_or_event]]></Event>"
    "<Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>"
    "<OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId></xml>"
)
