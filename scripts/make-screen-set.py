#!/usr/bin/env python3
"""Creatives whose message is only on screen, with the text they show.

    scripts/make-screen-set.py [DIR]        default DIR: <repo>/tests/data/screen

Each creative is 2-3 slides of Russian (and some Latin) ad text drawn with
ffmpeg's drawtext in Debian's DejaVu and Liberation fonts, over a music bed
with no speech. The backgrounds vary: plain colours, gradients, still
pictures (a fractal, a test pattern), moving video (Life, a cellular
automaton, a moving test pattern) and lower thirds (a caption band over
moving video); sizes from small captions to headlines, at 640x360 to
1920x1080. DIR/manifest.jsonl has one JSON object per creative:
{"file", "segment", "background", "font", "size", "width", "height",
"lines": [the text lines shown, in order]}.

Needs ffmpeg (libx264, drawtext) and fonts-dejavu-core, fonts-liberation.
Deterministic: the same files on every run (bit-exact flags). Re-running
does nothing when the manifest exists and the recipe is unchanged.
"""

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

RECIPE = 2

FONTS = {
    "dejavu-bold": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "dejavu": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "liberation": "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "liberation-bold": "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "dejavu-serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
}

# (segment id of the built-in dictionary, slides; each slide is its lines).
MESSAGES = [
    (12, [["Кредитная карта", "120 дней без процентов"], ["Лимит до 1 000 000 ₽"], ["Оформите онлайн за 5 минут"]]),
    (12, [["Беспроцентный период", "на покупки и снятие"], ["Кредитный лимит до 500 000 рублей"]]),
    (10, [["Дебетовая карта", "с кешбэком до 10%"], ["Бесплатное обслуживание навсегда"]]),
    (10, [["Зарплатная карта", "кешбэк рублями каждый месяц"], ["Закажите карту с доставкой"]]),
    (8, [["Кредит наличными", "ставка от 4,9%"], ["Решение за 2 минуты", "без справок"]]),
    (8, [["Ипотека для семей", "одобрение онлайн"], ["Рефинансирование кредитов"]]),
    (13, [["Вклад «Максимальный»", "до 18% годовых"], ["Накопительный счёт", "процент на остаток"]]),
    (13, [["Брокерский счёт", "инвестиции с 1000 рублей"], ["Доходность выше вклада"]]),
    (11, [["Расчётный счёт для бизнеса", "открытие бесплатно"], ["Эквайринг для ИП и юрлиц"]]),
    (15, [["Слушайте музыку", "без рекламы"], ["Миллионы треков и плейлисты"], ["Подписка на музыку 3 месяца бесплатно"]]),
    (15, [["Новые треки каждую пятницу"], ["Чарт недели", "в вашем плейлисте"]]),
    (16, [["Умная колонка", "с голосовым помощником"], ["Просто скажите «Алиса, включи музыку»"]]),
    (16, [["Станция Мини", "управляйте домом голосом"], ["Колонка с Алисой"]]),
    (14, [["Кино, сериалы и музыка", "в одной подписке"], ["Первый месяц бесплатно"]]),
    (14, [["Одна подписка", "для всех сервисов"], ["Фильмы, книги и доставка"]]),
    (17, [["Снимай короткие видео"], ["Смотри клипы любимых авторов"]]),
    (18, [["Общайтесь с друзьями", "ВКонтакте"], ["Сообщества и лента новостей"]]),
    (3, [["Скидки до 50% на продукты"], ["Бесплатная доставка домой", "закажите в приложении"]]),
    (5, [["Доставим продукты за 30 минут"], ["Курьер привезёт заказ к двери"]]),
    (2, [["Бонусная карта покупателя"], ["Копите баллы", "за каждую покупку"]]),
    (0, [["Низкие цены каждый день"], ["Скидка 30% на всё", "только в магазинах"]]),
    (9, [["Новогодняя распродажа"], ["Скидки только с 20 по 31 декабря"]]),
    (7, [["Подарочные сертификаты"], ["Подарочный набор к празднику"]]),
    (4, [["Скидка по карте постоянного покупателя"], ["Цена по карте ниже на 20%"]]),
]

# (name, lavfi source at WxH, text colour, whether a box sits behind the text)
BACKGROUNDS = [
    ("colour", "color=c=0x123a7a:s={w}x{h}:r=25", "white", False),
    ("gradient", "gradients=s={w}x{h}:r=25:c0=0x7a1f3d:c1=0x1f3d7a:seed=7:speed=0.005", "white", False),
    # One rendered still, held: a fractal drawn every frame takes minutes.
    ("picture", "mandelbrot=s=640x360:r=25:maxiter=120,trim=end_frame=1,loop=loop=-1:size=1,scale={w}x{h}", "white", True),
    ("pattern", "testsrc2=s={w}x{h}:r=25", "black", True),
    # Drawn coarse and scaled up: full-resolution cell noise only bloats the files.
    ("life", "life=s=160x90:r=25:mold=10:ratio=0.2:seed=11:death_color=0x202020:life_color=0x3a7a3a:mold_color=0x205020,scale={w}x{h}:flags=neighbor", "white", False),
    ("automaton", "cellauto=s=160x90:r=25:rule=110:seed=5,scale={w}x{h}:flags=neighbor", "yellow", True),
    ("colour-light", "color=c=0xf2efe6:s={w}x{h}:r=25", "0x202020", False),
    ("lower-third", "testsrc2=s={w}x{h}:r=25", "white", "band"),
]

SIZES = [(1280, 720), (1920, 1080), (640, 360)]
SLIDE_S = 3.5


def text_size(width, k):
    """Headline to caption: 4.5 % to 2.6 % of the picture width."""
    return max(16, round(width * [0.045, 0.036, 0.030, 0.026][k % 4]))


def escape(path):
    return path.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def build(i, segment, slides, tmp, out_dir):
    name, source, colour, boxed = BACKGROUNDS[i % len(BACKGROUNDS)]
    w, h = SIZES[i % len(SIZES)]
    font_name = list(FONTS)[i % len(FONTS)]
    font = FONTS[font_name]
    size = text_size(w, i // len(BACKGROUNDS))
    duration = SLIDE_S * len(slides)
    filters = []
    if boxed == "band":
        filters.append(f"drawbox=x=0:y={int(h * 0.68)}:w={w}:h={int(h * 0.26)}:color=0x0b2a5a@0.85:t=fill")
    lines = []
    for k, slide in enumerate(slides):
        start, end = k * SLIDE_S, (k + 1) * SLIDE_S
        for j, line in enumerate(slide):
            lines.append(line)
            path = os.path.join(tmp, f"{i}-{k}-{j}.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(line)
            gap = int(size * 1.5)
            if boxed == "band":
                y = f"{int(h * 0.71)}+{j * gap}"
            else:
                y = f"(h-{len(slide) * gap})/2+{j * gap}"
            box = ":box=1:boxcolor=0x000000@0.55:boxborderw=8" if boxed is True and colour != "black" else (
                ":box=1:boxcolor=0xffffff@0.7:boxborderw=8" if boxed is True else "")
            filters.append(
                f"drawtext=fontfile='{escape(font)}':textfile='{escape(path)}':fontsize={size}:fontcolor={colour}:expansion=none"
                f":x=(w-text_w)/2:y={y}{box}:enable='between(t,{start},{end - 0.04})'"
            )
    out = os.path.join(out_dir, f"screen{i:02d}.mp4")
    # A music bed: two soft tones and a pulse, no voice.
    audio = "aevalsrc='0.12*sin(2*PI*220*t)+0.08*sin(2*PI*330*t)*(0.5+0.5*sin(2*PI*2*t))':s=44100:c=mono"
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", source.format(w=w, h=h),
        "-f", "lavfi", "-i", audio,
        "-t", str(duration), "-vf", ",".join(filters) + ",format=yuv420p",
        "-c:v", "libx264", "-preset", "medium", "-crf", "23", "-g", "50", "-threads", "1",
        "-c:a", "aac", "-b:a", "96k",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        out,
    ]
    subprocess.run(cmd, check=True)
    return {
        "file": os.path.basename(out), "segment": segment, "background": name, "font": font_name,
        "size": size, "width": w, "height": h, "lines": lines,
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data", "screen"))
    os.makedirs(out_dir, exist_ok=True)
    manifest = os.path.join(out_dir, "manifest.jsonl")
    stamp = os.path.join(out_dir, ".recipe")
    if os.path.exists(manifest) and os.path.exists(stamp) and open(stamp).read().strip() == str(RECIPE):
        return
    for f in FONTS.values():
        if not os.path.exists(f):
            sys.exit(f"make-screen-set: {f} missing: apt-get install fonts-dejavu-core fonts-liberation")
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(os.cpu_count() or 4) as pool:
        rows = list(pool.map(lambda m: build(m[0], m[1][0], m[1][1], tmp, out_dir), enumerate(MESSAGES)))
    with open(manifest + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(manifest + ".tmp", manifest)
    with open(stamp, "w") as f:
        f.write(f"{RECIPE}\n")
    print(f"make-screen-set: {len(rows)} creatives in {out_dir}")


if __name__ == "__main__":
    main()
