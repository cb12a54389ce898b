"""How the committed test files were made (run once; the files are committed as they are).

python players/tests/files/make_files.py
"""

from datetime import date, datetime
from pathlib import Path

HERE = Path(__file__).parent
LONG = "长" * 100

MESSY = [
    "账号,区服,昵称,手机号,生日,注册时间,等级,渠道,备用列",
    "10001,s1,龙傲天,13812345678,1990-05-17,2024-01-05 10:30:00,58,appstore,x",
    "",
    "10002,s2,小明,138-bad,1991/2/3,2024/1/5,12,huawei,",
    "10003,s1,赵六,+86 139 1234 5678,1992年3月4日,2024-01-05T10:00:00+08:00,3,oppo,",
    "10004,s1,孙七,,32874,45296,7,vivo,",
    "10005,s1,周八,,1990-13-45,2024-01-05,1,xiaomi,",
    f"10006,s2,{LONG},,,,,,",
    " 10007 ,s3,吴九,,,,,,",
    "acc 10008,s3,郑十,,,,,,",
    "10001,s1,龙傲天,13812345678,1990-05-17,2024-01-05 10:30:00,58,appstore,x",
    "10003,s1,赵六改名,,,,,,",
    "10009,s1,王五,,05/01/2024,,,,",
    "10010,s1,钱二,,,2024-01-05 10:00:00 +0800,很多,,",
    "10011,s2",
    "",
]


def main():
    text = "\r\n".join(MESSY) + "\r\n"
    (HERE / "messy_players_utf8_bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (HERE / "messy_players_gbk.csv").write_bytes(text.encode("gbk"))

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "players"
    sheet.append(["account_id", "server", "nickname", "phone", "birthday", "registered_at", "level", "email", "tags"])
    sheet.append(
        [
            "x1",
            "s9",
            "Alice",
            13812345670,
            date(1995, 6, 1),
            datetime(2024, 1, 5, 10, 30),
            42,
            "a@example.com",
            "whale, 老玩家",
        ]
    )
    sheet.append(["x2", "s9", "Carol", None, None, None, 3.0, "not-an-email", None])
    sheet.append([None, None, None, None, None, None, None, None, None])
    sheet.append(["x3", "s9", "Bob", "+85291234567", 36000, "2024-01-05T10:00:00Z", None, None, "老玩家"])
    book.save(HERE / "players.xlsx")

    payments = [
        "account_id,event_id,type,amount,currency,occurred_at,product,refund_of",
        "p1,e-1,purchase,6.00,CNY,2026-01-05T10:00:00+08:00,首充,",
        "p1,e-2,purchase,648.00,CNY,2026-01-06 12:00:00,月卡,",
        "p2,e-3,充值,6,CNY,2026/1/7 08:00,首充,",
        "p1,e-4,refund,6.00,CNY,2026-01-08T09:00:00+08:00,,e-1",
        "p2,e-5,purchase,-5,CNY,2026-01-08T09:00:00+08:00,,",
        "p3,e-6,refund,100,CNY,2026-01-08T09:00:00+08:00,,",
    ]
    (HERE / "payments.csv").write_text("\n".join(payments) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
