// The page speaks Russian by default, English on request; every string the
// page shows comes from here.
const STRINGS = {
  ru: {
    title: 'Creative Filter — сегменты рекламных роликов',
    tagline: 'Всё работает в вашем браузере: файлы никуда не отправляются.',
    tabBatch: 'Классификация', tabTable: 'Таблица ID', tabTrain: 'Обучение', tabSegments: 'Сегменты',
    loadingModels: 'Загрузка моделей…', modelsReady: 'Модели готовы', fromCache: 'из кэша браузера', fromNetwork: 'загружены',
    engineCpu: 'Вычисления: CPU (WebAssembly SIMD)', engineThreads: 'потоков: {n}',
    engineNotIsolated: 'один поток: страница не изолирована (заголовки COOP/COEP), многопоточный модуль недоступен',
    engineNoRelaxedSimd: 'один поток: в браузере нет WebAssembly relaxed SIMD, многопоточный модуль недоступен',
    enginePoolFailed: 'один поток: пул потоков не запустился', engineGpu: 'кодировщик речи на GPU: {name}', engineGpuBoth: 'кодировщики речи и текста на GPU: {name}', engineNoGpu: 'кодировщик речи на CPU',
    drop: 'Перетащите сюда файлы или папки с роликами', pickFiles: 'Выбрать файлы', pickFolder: 'Выбрать папку',
    example: 'Классифицировать пример', cancel: 'Отменить', exportCsv: 'Скачать CSV', exportXlsx: 'Скачать XLSX', clear: 'Очистить',
    keptRows: 'Сохранено в этом браузере строк: {n}', storageUse: 'занято {mb} МБ вместе с моделями', forgetKept: 'Забыть сохранённые расшифровки',
    confirmClear: 'Удалить из таблицы и из браузера все результаты (строк: {n})? Это нельзя отменить.',
    confirmForget: 'Забыть расшифровки и эмбеддинги, сохранённые в браузере? Результаты в таблице останутся, но повторная классификация тех же файлов займёт полное время.',
    skipped: 'Файлы, уже классифицированные ранее, пропущены (файлов: {n}).', classifyAgain: 'Классифицировать заново',
    errStorage: 'Браузер не сохранил результаты (они останутся до перезагрузки)',
    filter: 'Фильтр…', filterSegment: 'Сегмент', threshold: 'Проверять ниже', lowConfidence: 'проверить: низкая уверенность',
    confidenceMeans: 'Уверенность — вероятность выбранного сегмента по оценке классификатора (0–100 %); в «Топ-3» — три самых вероятных сегмента на той же шкале.', allSegments: 'Все сегменты', eta: 'осталось ≈', done: 'готово', of: 'из',
    colId: 'ID', colFile: 'Файл', colSegment: 'Сегмент', colConfidence: 'Уверенность', colTop: 'Топ-3', colModality: 'Источник', colTranscript: 'Расшифровка', colTime: 'Время, с', colStatus: 'Статус',
    queued: 'в очереди', working: 'обработка…', ok: 'готово', failed: 'ошибка', cancelled: 'отменено', noSpeech: 'нет речи',
    speech: 'речь', 'no-speech': 'нет речи', cached: 'кэш', vision: 'видео', fused: 'речь + видео', speechSays: 'речь', videoSays: 'видео', evidence: 'в пользу ответа (веса слов обученной модели)',
    screen: 'текст на экране', screenSays: 'текст на экране', screenText: 'Текст на экране', screenCut: 'чтение остановлено по времени, прочитано кадров', 'stage-screen': 'чтение текста на экране',
    screenTitle: 'Текст на экране (OCR)',
    screenHelp: 'Ролики, в которых речи мало или нет, классифицируются по тексту в кадре: Tesseract читает кадры (раз в секунду, только изменившиеся) здесь, в браузере.',
    decodingTitle: 'Распознавание речи', decodingMode: 'Декодирование:', decodingBeam: 'точное (лучевой поиск из 5 гипотез)', decodingGreedy: 'быстрое (жадное)',
    deviceMode: 'Вычисления:', deviceAuto: 'авто (GPU, если он быстрее CPU)', deviceGpu: 'GPU (WebGPU)', deviceCpu: 'только CPU',
    deviceHelp: 'Кодировщик Whisper считается на видеокарте через WebGPU, если она прошла самопроверку; при любом сбое GPU ролик досчитывается на CPU. Программные адаптеры (SwiftShader) медленнее CPU и в режиме «авто» не используются.',
    decodingHelp: 'Лучевой поиск ошибается в словах реже (на тестовой речи 18,5 % ошибок против 23 %), но расшифровка ролика дольше. Строки, уже стоящие в таблице, остаются как есть.',
    speechPrompt: 'Слова, которые звучат в роликах (бренды, продукты):', speechPromptExample: 'например: Сбер, Яндекс Станция, Алиса, кешбэк',
    speechPromptHelp: 'Whisper получает эти слова перед каждым 30-секундным окном и пишет их так, как они написаны здесь. Оставьте пустым, если названия распознаются верно: с подсказкой расшифровка дольше (с 40 названиями — примерно на четверть). Строки, уже стоящие в таблице, остаются как есть.',
    screenMode: 'Читать текст на экране:', screenAuto: 'когда речи мало (меньше 20 слов)', screenAlways: 'всегда', screenOff: 'никогда',
    screenNotLoaded: 'Модель OCR ещё не загружена: {mb} МБ загрузятся для первого ролика, которому она нужна.', screenLoading: 'Загрузка модели OCR…',
    screenReady: 'Модель OCR загружена.', screenMissing: 'На этом сайте нет модели OCR: текст на экране не читается.',
    visionTitle: 'Видеомодель (X-CLIP)',
    visionHelp: 'Ролики без речи классифицируются по изображению моделью X-CLIP. Выберите папку чекпойнта Hugging Face (config.json, model.safetensors, tokenizer.json или vocab.json + merges.txt): он будет преобразован здесь, в браузере, и сохранён в его хранилище.',
    visionFolder: 'Папка чекпойнта', visionFiles: 'Или его файлы', visionForget: 'Удалить видеомодель',
    visionOff: 'Видеоветка выключена: загрузите X-CLIP в «Сегменты → Видеомодель».', visionOn: 'Видеоветка включена', visionImporting: 'Преобразование X-CLIP…',
    visionHead: 'Видеоголова обучена на роликах', fusionCalibrated: 'Вес речи откалиброван на роликах с речью и видео', fusionDefault: 'Вес речи — по умолчанию (не на чем калибровать).',
    screenExamples: 'Из них тексты с экрана', screenCalibrated: 'Вес речи против текста на экране откалиброван на роликах с речью и текстом', screenDefault: 'Вес речи против текста на экране — по умолчанию (не на чем калибровать).',
    tableHelp: 'Перетащите таблицу с колонкой «Advertisement ID» (.xlsx/.csv) и папку с роликами — получите заполненную таблицу.',
    tableFile: 'Таблица', mediaFolder: 'Папка с роликами', run: 'Запустить', downloadXlsx: 'Скачать таблицу (XLSX)', downloadCsv: 'Скачать таблицу (CSV)',
    exampleFiles: 'Примеры файлов (откройте в Excel, замените строки своими):',
    trainHelp: 'Обучение на ваших размеченных роликах: таблица разметки (train_segments.csv или .xlsx с колонками «Advertisement ID» и «Segment_num») и папка с роликами, названными по ID (например, 100001.mp4); учатся и их речь, и текст на экране — там, где его читает настройка «Читать текст на экране». Или на текстах: CSV/JSONL с колонками text и label (номера сегментов или их названия, одно из двух во всех строках). Нужно хотя бы по два примера на сегмент; отчёт покажет качество на кросс-валидации.',
    noRowMatched: 'Ни одна строка разметки не нашла свой ролик: строк без ролика — {n}, файлов в папке — {m}. Имя файла без расширения должно совпадать с ID.', forExample: 'например',
    labels: 'Разметка (train_segments.csv)', dictionary: 'Словарь сегментов (segment_dict.xlsx, необязательно)', texts: 'Или тексты с метками',
    train: 'Обучить', saveHead: 'Сохранить модель (head.json)', loadHead: 'Загрузить модель', resetHead: 'Вернуться к zero-shot',
    classifier: 'Классификатор', zeroShot: 'zero-shot (без обучения)', trained: 'обученный',
    segmentsHelp: 'Сегменты, среди которых выбирается ответ. Загрузите свой segment_dict.xlsx/.csv (id, name[, description]).', resetSegments: 'Встроенные сегменты',
    errNoWorker: 'Этот браузер не поддерживает Web Workers с модулями.', errNoSimd: 'Этот браузер не поддерживает WebAssembly SIMD; обновите браузер.',
    errNoWebCodecs: 'Нет WebCodecs: часть форматов (Opus) не будет декодироваться.', errOom: 'Не хватило памяти: файл пропущен, обработка продолжается.',
    errCrashed: 'Внутренняя ошибка при обработке файла; модуль перезапущен.', errModels: 'Модели не загрузились',
    report: 'Отчёт (кросс-валидация)', precision: 'точность', recall: 'полнота', support: 'примеров', accuracy: 'доля верных', macroAvg: 'среднее по сегментам', weightedAvg: 'среднее, взвешенное по примерам', seconds: 'с', confusion: 'Матрица ошибок', trainedOn: 'Обучено на примерах:', unused: 'Не использовано строк:',
    files: { one: 'файл', few: 'файла', many: 'файлов', other: 'файла' }, rowsDecided: 'строк с сегментом', transcribing: 'Расшифровка роликов', embedding: 'Векторизация текстов',
    segmentsWord: 'сегментов', description: 'Описание',
    noSpeechNote: 'нет речи — по звуку не классифицировать',
    'code-too-large': 'файл больше 1 ГБ: его прочтёт программа командной строки (creative-filter classify)', 'code-empty': 'пустой файл', 'code-not-media': 'не медиафайл или формат не распознан', 'code-decode': 'не удалось декодировать',
    'code-unsupported-codec': 'кодек не поддерживается', 'code-no-audio': 'нет звуковой дорожки', 'code-timeout': 'превышено время обработки',
    'code-crashed': 'внутренняя ошибка (модуль перезапущен)',
    // The core's messages (Rust: `message::Message`), by code; {…} are its values.
    // English takes the core's own text.
    'msg-read': '{path}: не удалось прочитать файл ({detail})', 'msg-write': '{path}: не удалось записать ({detail})',
    'msg-not-a-file': '{path}: не файл (папка, канал или устройство)', 'msg-file-too-large': '{path}: {bytes} байт — больше, чем может быть у ролика ({limit} байт)',
    'msg-empty': 'пустой файл (0 байт)', 'msg-not-media': 'не медиафайл, который программа умеет читать ({detail})',
    'msg-unsupported-codec': 'кодек {codec} не поддерживается ({detail})', 'msg-no-audio': 'в файле нет звуковой дорожки',
    'msg-decode': 'не удалось декодировать звук ({detail})',
    'msg-over-budget': 'в файле указано значение {field} {value}, невозможное для ролика (предел {limit}): файл повреждён или это не ролик',
    'msg-no-video': 'в файле нет видеодорожки', 'msg-unsupported-video-codec': 'видеокодек {codec} не поддерживается; перекодируйте ролик в H.264',
    'msg-video-decode': 'не удалось декодировать видео ({detail})', 'msg-ocr': 'не удалось прочитать текст на экране ({detail})',
    'msg-model-missing': 'нет модели {name}: перезагрузите страницу', 'msg-model-corrupt': 'модель {name} повреждена ({detail}): перезагрузите страницу',
    'msg-model-config': 'модель не поддерживается ({detail})', 'msg-gpu': 'сбой видеокарты, расчёт продолжен на процессоре ({detail})', 'msg-prepare': 'не удалось подготовить модель ({detail})',
    'msg-io': 'ошибка ввода-вывода ({detail})', 'msg-inference': 'ошибка вычислений модели ({detail})', 'msg-tokenizer': 'ошибка токенизатора ({detail})',
    'msg-invalid': 'неверные данные ({detail})', 'msg-missing-column': '{file}: нет колонки «{wanted}» (в таблице есть: {found})',
    'msg-table': '{file}: не удалось прочитать таблицу ({detail})',
    'msg-duplicate-segment': 'номер сегмента {id} встречается в словаре дважды («{first}» и «{second}»); дайте каждому сегменту свой номер',
    'msg-head-mismatch': 'модель классификатора обучена на эмбеддингах {head_model}, а сейчас используется {in_use}: обучите её заново',
    'msg-no-speech': 'в ролике нет речи — по звуку его не классифицировать', 'msg-screen-off': 'текст на экране не читается: в этой сборке нет OCR',
    'msg-vision-off': 'видеоветка выключена: импортируйте X-CLIP', 'msg-vision-off-in-page': 'видеоветка выключена: загрузите X-CLIP в «Сегменты → Видеомодель», чтобы классифицировать ролики без речи по изображению',
    'msg-no-screen-text': 'на экране нет текста', 'msg-little-screen-text': 'текста на экране слишком мало для классификации',
    'msg-audio-only': 'изображения нет: файл только со звуком', 'msg-picture-unreadable': 'не удалось прочитать изображение',
    'msg-no-video-frames': 'нет кадров видео', 'msg-video-unclassified': 'видео не удалось классифицировать',
    'msg-vision-other-segments': 'видеоветка выбирает из других сегментов, чем речевая; дайте обеим один словарь',
    'msg-vision-head-other-model': 'видеочасть модели классификатора обучена на {head_model}, а загружена {in_use}: видеоветка работает без обучения',
    // Rows of the users' tables that were not used (labels, spend), and why.
    'msg-no-text': 'нет текста', 'msg-no-label': 'нет метки', 'msg-no-id': 'нет ID креатива (сегмент «{segment}»)',
    'msg-row-without-id': 'в строке нет ID креатива', 'msg-no-segment-number': 'нет номера сегмента',
    'msg-segment-not-a-number': 'номер сегмента «{value}» — не целое число ≥ 0', 'msg-segment-unknown': 'сегмента {segment} нет в словаре сегментов',
    'msg-label-repeated': 'повторяет строку {row} (тот же сегмент {segment}); учтена один раз',
    'msg-label-conflict': 'уже размечен в строке {row} как сегмент {segment}; сегмент {ignored} не учтён',
    'msg-label-not-a-segment': 'метка «{label}» — не сегмент',
    'msg-no-media-file': 'среди выбранных файлов нет файла {id}.*', 'msg-media-ambiguous': 'у этого ID несколько файлов ({names}); оставьте один',
    'msg-not-used': 'не использован', 'msg-unused-by-both-heads': 'не использован ни одной моделью',
    'msg-text-head-unused': 'не использован текстовой моделью', 'msg-vision-head-only': 'использован только видеомоделью',
    'msg-text-head-only': 'использован только текстовой моделью',
    'msg-nothing-said': 'нет речи', 'msg-nothing-said-little-text': 'нет речи и слишком мало текста на экране',
    'msg-nothing-said-no-frames': 'нет речи и нет кадров видео', 'msg-little-text-no-frames': 'нет речи, мало текста на экране и нет кадров видео',
    'msg-frames-unread': 'его кадры не удалось прочитать', 'msg-file-unread': 'файл не удалось прочитать',
    'msg-no-year': 'нет года', 'msg-bad-year': 'год «{value}» — не год от {first} до {last}', 'msg-no-month': 'нет месяца',
    'msg-bad-month': 'месяц «{value}» — не номер и не название месяца', 'msg-no-such-month': 'нет месяца {year}-{month}',
    'msg-no-cost': 'нет суммы', 'msg-cost-not-a-number': 'сумма «{value}» — не число', 'msg-negative-cost': 'отрицательная сумма «{value}»',
    'msg-cost-too-large': 'сумма «{value}» слишком велика',
    'msg-names-conflict': '{period}: сложено со строкой {row}, где указаны {advertiser} / {brand} / {media_type}; оставлены эти названия',
    tabDashboard: 'Дашборд',
    dashHelp: 'Расходы (медиадавление) по сегментам: загрузите dashboard_data.csv/.xlsx, разметку train_segments.csv и предсказания. Креативы без сегмента показаны как «без сегмента».',
    dashSpend: 'Расходы (dashboard_data.csv/.xlsx)', dashLabels: 'Разметка (train_segments.csv)', dashPredictions: 'Предсказания (таблица результатов)',
    dashSample: 'Пример данных', dashSession: 'Учитывать результаты классификации этой сессии', dashSampleBadge: 'ПРИМЕР: сгенерированные данные, не реальные расходы',
    dashReading: 'Чтение файла…', dashRows: 'строк', dashLines: 'креатив-месяцев', dashSummed: 'строк сложено с дублями', dashCreatives: 'Креативы',
    dashKnown: 'размечено', dashPredicted: 'предсказано', dashUnclassified: 'без сегмента', dashRow: 'Строка',
    // Why spend rows were not used (the core's reason kinds).
    'reason-no creative ID': 'нет ID креатива', 'reason-bad year': 'неверный год', 'reason-bad month': 'неверный месяц', 'reason-bad cost': 'неверная сумма',
    dashBad: 'Неиспользованные строки', dashConflicts: 'разные названия у одного креатива', dashLabelProblems: 'строки разметки без сегмента', dashMore: 'ещё',
    dashLabelsRead: 'меток прочитано',
    dashYears: 'Годы', dashFrom: 'С месяца', dashTo: 'По месяц', dashFirst: 'с начала', dashLast: 'до конца', dashSegments: 'Сегменты',
    dashAdvertisers: 'Рекламодатели', dashBrands: 'Бренды', dashMedia: 'Тип медиа', dashBrandChart: 'Бренд для динамики', dashBiggestBrand: 'крупнейший',
    source: 'Источник', cachedTranscript: 'расшифровка из кэша', timings: 'Время', ms: 'мс',
    'stage-decode': 'декодирование', 'stage-resample': 'передискретизация', 'stage-mel': 'мел-спектр', 'stage-encoder': 'энкодер Whisper', 'stage-decoder': 'декодер Whisper', 'stage-embed': 'эмбеддинг текста',
    dashReset: 'Сбросить фильтры', dashSearch: 'Найти', dashRemove: 'Убрать из фильтра', dashTotal: 'Расходы всего', dashClassified: 'Доля с сегментом',
    dashTable: 'Сводная таблица:', dashHint: 'Наведите на столбец — точная сумма; щёлкните по легенде — скрыть или показать ряд. Ctrl/⌘ — выбрать несколько.',
    lang: 'English',
  },
  en: {
    title: 'Creative Filter — advertising creative segments',
    tagline: 'Everything runs in your browser: no file leaves this machine.',
    tabBatch: 'Classify', tabTable: 'ID table', tabTrain: 'Train', tabSegments: 'Segments',
    loadingModels: 'Loading models…', modelsReady: 'Models ready', fromCache: 'from the browser cache', fromNetwork: 'downloaded',
    engineCpu: 'Compute: CPU (WebAssembly SIMD)', engineThreads: 'threads: {n}',
    engineNotIsolated: 'one thread: the page is not cross-origin isolated (COOP/COEP headers), so the threaded module cannot run',
    engineNoRelaxedSimd: 'one thread: this browser lacks WebAssembly relaxed SIMD, so the threaded module cannot run',
    enginePoolFailed: 'one thread: the thread pool did not start', engineGpu: "speech encoder on the GPU: {name}", engineGpuBoth: 'speech and text encoders on the GPU: {name}', engineNoGpu: 'speech encoder on the CPU',
    drop: 'Drop creatives or whole folders here', pickFiles: 'Choose files', pickFolder: 'Choose a folder',
    example: 'Classify the example', cancel: 'Cancel', exportCsv: 'Download CSV', exportXlsx: 'Download XLSX', clear: 'Clear',
    keptRows: 'Rows kept in this browser: {n}', storageUse: '{mb} MB in use with the models', forgetKept: 'Forget the kept transcripts',
    confirmClear: 'Remove all results ({n} rows) from the table and from this browser? This cannot be undone.',
    confirmForget: 'Forget the transcripts and embeddings kept in this browser? The table stays, but classifying the same files again will take the full time.',
    skipped: 'Files classified before were skipped ({n}).', classifyAgain: 'Classify them again',
    errStorage: 'The browser did not keep the results (they last until a reload)',
    filter: 'Filter…', filterSegment: 'Segment', threshold: 'Check below', lowConfidence: 'check: low confidence',
    confidenceMeans: 'Confidence is the classifier\'s probability of the chosen segment (0–100 %); Top 3 shows the three most likely segments on the same scale.', allSegments: 'All segments', eta: 'about', done: 'done', of: 'of',
    colId: 'ID', colFile: 'File', colSegment: 'Segment', colConfidence: 'Confidence', colTop: 'Top 3', colModality: 'Source', colTranscript: 'Transcript', colTime: 'Time, s', colStatus: 'Status',
    queued: 'queued', working: 'working…', ok: 'done', failed: 'failed', cancelled: 'cancelled', noSpeech: 'no speech',
    speech: 'speech', 'no-speech': 'no speech', cached: 'cached', vision: 'video', fused: 'speech + video', speechSays: 'speech', videoSays: 'video', evidence: 'for the answer (word weights of the trained head)',
    screen: 'on-screen text', screenSays: 'on-screen text', screenText: 'On-screen text', screenCut: 'reading stopped at its time limit, frames read', 'stage-screen': 'reading on-screen text',
    screenTitle: 'On-screen text (OCR)',
    screenHelp: 'Creatives with little or no speech are classified from the text in their picture: Tesseract reads the frames (one a second, only those that changed) here, in the browser.',
    decodingTitle: 'Speech recognition', decodingMode: 'Decoding:', decodingBeam: 'accurate (beam search of 5)', decodingGreedy: 'fast (greedy)',
    deviceMode: 'Compute:', deviceAuto: 'auto (the GPU where it beats the CPU)', deviceGpu: 'GPU (WebGPU)', deviceCpu: 'CPU only',
    deviceHelp: "Whisper's encoder runs on the graphics card through WebGPU once it passes a self-test; on any GPU failure the creative is finished on the CPU. Software adapters (SwiftShader) are slower than the CPU and auto passes over them.",
    decodingHelp: 'The beam search gets fewer words wrong (18.5 % against 23 % on the test speech) but takes longer per creative. Rows already in the table stay as they are.',
    speechPrompt: 'Words heard in the creatives (brands, products):', speechPromptExample: 'e.g. Yandex Station, Alice, cashback',
    speechPromptHelp: 'Whisper is given these words before each 30-s window and spells them as written here. Leave it empty when names come out right: with a prompt transcription takes longer (about a quarter more with 40 names). Rows already in the table stay as they are.',
    screenMode: 'Read on-screen text:', screenAuto: 'when there is little speech (under 20 words)', screenAlways: 'always', screenOff: 'never',
    screenNotLoaded: 'The OCR model is not downloaded yet: {mb} MB are fetched for the first creative that needs it.', screenLoading: 'Downloading the OCR model…',
    screenReady: 'The OCR model is loaded.', screenMissing: 'This site has no OCR model: on-screen text is not read.',
    visionTitle: 'Video model (X-CLIP)',
    visionHelp: 'Creatives without speech are classified from their pictures by an X-CLIP model. Pick the folder of a Hugging Face checkpoint (config.json, model.safetensors, tokenizer.json or vocab.json + merges.txt): it is converted here, in the browser, and kept in its storage.',
    visionFolder: 'Checkpoint folder', visionFiles: 'Or its files', visionForget: 'Remove the video model',
    visionOff: 'Vision branch off: load an X-CLIP model under Segments → Video model.', visionOn: 'Vision branch on', visionImporting: 'Converting X-CLIP…',
    visionHead: 'Video head trained on creatives', fusionCalibrated: 'Speech weight calibrated on creatives with speech and video', fusionDefault: 'Speech weight left at its default (nothing to calibrate on).',
    screenExamples: 'Of them on-screen texts', screenCalibrated: 'Speech weight against the on-screen text calibrated on creatives with speech and text', screenDefault: 'Speech weight against the on-screen text left at its default (nothing to calibrate on).',
    tableHelp: 'Drop a table with an “Advertisement ID” column (.xlsx/.csv) and the folder of creatives to get the table filled in.',
    tableFile: 'Table', mediaFolder: 'Creatives folder', run: 'Run', downloadXlsx: 'Download table (XLSX)', downloadCsv: 'Download table (CSV)',
    exampleFiles: 'Example files (open in Excel, replace the rows with yours):',
    trainHelp: 'Train on your labelled creatives: a label table (train_segments.csv or .xlsx with the columns "Advertisement ID" and "Segment_num") and the folder of creatives named by their IDs (e.g. 100001.mp4); both their speech and their on-screen text teach it, wherever "Read on-screen text" reads it. Or on texts: CSV/JSONL with the columns text and label (segment numbers or their names, one or the other in every row). At least two examples per segment; the report shows the cross-validated quality.',
    noRowMatched: 'No labelled row found its creative: {n} rows without one, {m} files in the folder. A file\'s name without its extension must be the ID.', forExample: 'for example',
    labels: 'Labels (train_segments.csv)', dictionary: 'Segment dictionary (segment_dict.xlsx, optional)', texts: 'Or labelled texts',
    train: 'Train', saveHead: 'Save the head (head.json)', loadHead: 'Load a head', resetHead: 'Back to zero-shot',
    classifier: 'Classifier', zeroShot: 'zero-shot (untrained)', trained: 'trained',
    segmentsHelp: 'The segments answers are chosen from. Load your own segment_dict.xlsx/.csv (id, name[, description]).', resetSegments: 'Built-in segments',
    errNoWorker: 'This browser cannot run module workers.', errNoSimd: 'This browser lacks WebAssembly SIMD; please update it.',
    errNoWebCodecs: 'No WebCodecs: some formats (Opus) cannot be decoded.', errOom: 'Out of memory: the file was skipped, the batch goes on.',
    errCrashed: 'Internal error on this file; the module was restarted.', errModels: 'The models did not load',
    report: 'Report (cross-validation)', precision: 'precision', recall: 'recall', support: 'support', accuracy: 'accuracy', macroAvg: 'macro avg', weightedAvg: 'weighted avg', seconds: 's', confusion: 'Confusion matrix', trainedOn: 'Trained on examples:', unused: 'Rows not used:',
    files: { one: 'file', other: 'files' }, rowsDecided: 'rows with a segment', transcribing: 'Transcribing creatives', embedding: 'Embedding texts',
    segmentsWord: 'segments', description: 'Description',
    noSpeechNote: 'no speech — cannot be classified from its sound',
    'code-too-large': 'larger than 1 GB: the command-line tool (creative-filter classify) reads it', 'code-empty': 'empty file', 'code-not-media': 'not a media file, or an unknown format', 'code-decode': 'could not be decoded',
    'code-unsupported-codec': 'unsupported codec', 'code-no-audio': 'no audio track', 'code-timeout': 'took too long',
    'code-crashed': 'internal error (the module was restarted)',
    tabDashboard: 'Dashboard',
    dashHelp: 'Spend (media pressure) by segment: load dashboard_data.csv/.xlsx, the labels train_segments.csv and predictions. Creatives with no segment are shown as “unclassified”.',
    dashSpend: 'Spend (dashboard_data.csv/.xlsx)', dashLabels: 'Labels (train_segments.csv)', dashPredictions: 'Predictions (results table)',
    dashSample: 'Sample data', dashSession: 'Include this session’s classification results', dashSampleBadge: 'SAMPLE: generated data, not real spend',
    dashReading: 'Reading the file…', dashRows: 'rows', dashLines: 'creative-months', dashSummed: 'rows summed with duplicates', dashCreatives: 'Creatives',
    dashKnown: 'labelled', dashPredicted: 'predicted', dashUnclassified: 'unclassified', dashRow: 'Row',
    'reason-no creative ID': 'no creative ID', 'reason-bad year': 'bad year', 'reason-bad month': 'bad month', 'reason-bad cost': 'bad cost',
    dashBad: 'Rows not used', dashConflicts: 'one creative under different names', dashLabelProblems: 'label rows without a segment', dashMore: 'more',
    dashLabelsRead: 'labels read',
    dashYears: 'Years', dashFrom: 'From', dashTo: 'To', dashFirst: 'first month', dashLast: 'last month', dashSegments: 'Segments',
    dashAdvertisers: 'Advertisers', dashBrands: 'Brands', dashMedia: 'Media type', dashBrandChart: 'Brand to chart', dashBiggestBrand: 'the biggest',
    source: 'Source', cachedTranscript: 'transcript from the cache', timings: 'Time', ms: 'ms',
    'stage-decode': 'decoding', 'stage-resample': 'resampling', 'stage-mel': 'mel spectrogram', 'stage-encoder': 'Whisper encoder', 'stage-decoder': 'Whisper decoder', 'stage-embed': 'text embedding',
    dashReset: 'Reset filters', dashSearch: 'Search', dashRemove: 'Remove from the filter', dashTotal: 'Total spend', dashClassified: 'Share with a segment',
    dashTable: 'Aggregated table:', dashHint: 'Hover a bar for the exact amount; click a legend entry to hide or show it. Ctrl/⌘ selects several.',
    lang: 'Русский',
  },
};

let lang = (localStorage.getItem('cf-lang') || 'ru') === 'en' ? 'en' : 'ru';

export const t = (key) => STRINGS[lang][key] ?? key;
export const language = () => lang;

/**
 * A message of the core (`message::Message`) in the page's language: its
 * `msg-<code>` wording with the `{param}`s filled in, then its cause. The
 * English page, and a code without a wording, take the core's own text.
 * @param {import('./report').Message | undefined} m
 * @returns {string}
 */
export function say(m) {
  if (!m) return '';
  if (m.page) {
    if (m.code === 'crashed') return t(/memory/i.test(m.text) ? 'errOom' : 'errCrashed');
    const own = lang === 'en' ? undefined : STRINGS[lang][`code-${m.code}`];
    return own ?? m.text;
  }
  const wording = lang === 'en' ? undefined : STRINGS[lang][`msg-${m.code}`];
  if (wording === undefined) return m.text;
  const own = wording.replace(/\{(\w+)\}/g, (_, k) => (m.params && m.params[k]) ?? '');
  return m.cause ? `${own}: ${say(m.cause)}` : own;
}

/**
 * A failure the page itself reports (too large, timed out, the module
 * restarted) as a message `say` words in the page's language at the time.
 * @returns {import('./report').Message}
 */
export const pageMessage = (e) => ({ code: e.code || 'internal', text: (e && e.message) || String(e), page: true });

/**
 * A row of a user's table that was not used, and why (`table::RowProblem`;
 * a label file's also names the file), in the page's language.
 * @param {import('./report').RowProblem} p
 */
export function sayRow(p) {
  const row = `${t('dashRow')} ${p.row}: ${p.id != null ? `ID ${p.id}: ` : ''}${say(p.reason)}`;
  return p.file ? `${p.file}: ${row}` : row;
}

/** Messages said together: the first, then its reasons in brackets (as `message::joined`). */
function sayAll(messages) {
  const [first, ...reasons] = messages.map(say);
  return reasons.length ? `${first} (${reasons.join('; ')})` : first;
}

/**
 * The report with its error and notes in the page's language, from the
 * codes in `said` (what the results table, its detail and the exports show).
 * @param {Partial<import('./report').Report>} r
 */
export function worded(r) {
  const s = r.said;
  if (!s) return r;
  return {
    ...r,
    error: s.error ? say(s.error) : r.error,
    note: s.note && s.note.length ? sayAll(s.note) : r.note,
    vision_note: s.vision_note ? say(s.vision_note) : r.vision_note,
    screen_note: s.screen_note ? say(s.screen_note) : r.screen_note,
  };
}

/** `n` and the word for it in the page's language, in the plural form `n` takes (1 файл, 2 файла, 5 файлов). */
export function count(n, key) {
  const forms = STRINGS[lang][key];
  return `${n.toLocaleString(lang)} ${forms[new Intl.PluralRules(lang).select(n)] ?? forms.other}`;
}

export function toggleLanguage() {
  lang = lang === 'ru' ? 'en' : 'ru';
  localStorage.setItem('cf-lang', lang);
  applyStatic();
}

// Elements with data-i18n get their text (or placeholder) from the table.
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  /** @type {(selector: string) => NodeListOf<HTMLInputElement>} */
  const all = (selector) => root.querySelectorAll(selector);
  for (const el of all('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of all('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of all('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of all('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}
