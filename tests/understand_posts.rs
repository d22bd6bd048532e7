//! The understanding step on posts written for these tests, in words the development corpus
//! does not use: each decision path and each known trap has a case. A wrong answer names the
//! post, what was expected and the reasons given.

use chrono::Utc;
use otklik::model::{AuthorKind, Platform};
use otklik::understand::{Knowledge, PostView, Understanding, understand};

struct Case {
    text: &'static str,
    community: Option<&'static str>,
    author: AuthorKind,
    incident: bool,
    group: Option<&'static str>,
    territory: Option<&'static str>,
    urgent: Option<bool>,
}

const R: AuthorKind = AuthorKind::Resident;
const O: AuthorKind = AuthorKind::Official;
const M: AuthorKind = AuthorKind::Media;
const B: AuthorKind = AuthorKind::Business;
const GY: Option<&str> = Some("gavrilov-yam");

fn case(
    text: &'static str,
    community: Option<&'static str>,
    author: AuthorKind,
    incident: bool,
    group: Option<&'static str>,
    territory: Option<&'static str>,
) -> Case {
    Case {
        text,
        community,
        author,
        incident,
        group,
        territory,
        urgent: None,
    }
}

fn urgent(mut c: Case, u: bool) -> Case {
    c.urgent = Some(u);
    c
}

fn run(k: &Knowledge, c: &Case) -> Understanding {
    understand(
        &PostView {
            platform: Platform::Vk,
            is_comment: false,
            text: c.text,
            community: "test",
            community_territory: c.community,
            author_kind: c.author,
            published: Utc::now(),
        },
        k,
    )
}

fn check(cases: &[Case]) {
    let k = Knowledge::embedded();
    let mut failures = Vec::new();
    for c in cases {
        let u = run(&k, c);
        let mut wrong = Vec::new();
        if u.incident != c.incident {
            wrong.push(format!("incident {} (expected {})", u.incident, c.incident));
        }
        if c.incident && u.group.as_deref() != c.group {
            wrong.push(format!("group {:?} (expected {:?})", u.group, c.group));
        }
        if u.territory.as_deref() != c.territory {
            wrong.push(format!(
                "territory {:?} (expected {:?})",
                u.territory, c.territory
            ));
        }
        if let Some(x) = c.urgent
            && u.urgent != x
        {
            wrong.push(format!("urgent {} (expected {x})", u.urgent));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "«{}»: {}\n    {}",
                c.text,
                wrong.join(", "),
                u.reasons.join(" | ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn complaints_in_many_wordings() {
    check(&[
        case(
            "На Калинина такие колдобины, что машину на брюхо сажаешь. Доколе?",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Дорога на Пирогова вся в дырах, вчера колесо пробил. Когда залатают?",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Третий день сидим без воды, из крана ни капли. Водоканал молчит",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "В кране опять пусто, ни холодной, ни горячей. Сколько это будет продолжаться?",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Мусор не забирают вторую неделю, баки забиты под завязку, вонища на весь двор",
            GY,
            R,
            true,
            Some("othody"),
            GY,
        ),
        case(
            "Контейнеры у нас в Шопше не вывозили с понедельника, крысы уже бегают",
            Some("shopsha"),
            R,
            true,
            Some("othody"),
            Some("shopsha"),
        ),
        case(
            "Фонари на Северной не горят, вечером идти страшно, хоть с фонариком ходи",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Бродячие псы у школы кидаются на детей, кто-нибудь займётся отловом?",
            GY,
            R,
            true,
            Some("bezopasnost"),
            GY,
        ),
        case(
            "У нас в Митине снова вырубило электричество, сидим при свечах с обеда",
            Some("mitino"),
            R,
            true,
            Some("energetika"),
            Some("mitino"),
        ),
        case(
            "Батареи в квартире еле тёплые, дома +15, дети болеют. УК отвечает что всё по норме",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Автобус из Великого в город опять не пришёл, люди час мёрзли на остановке",
            Some("velikoe"),
            R,
            true,
            Some("transport"),
            Some("velikoe"),
        ),
        case(
            "Подскажите, куда жаловаться на управляющую компанию? Подъезд не убирают месяцами",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Скажите пожалуйста, когда на Клубной будут менять трубы? Вода ржавая течёт",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Улицу Шишкина так и не почистили после снегопада, машины буксуют",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Интернет в Ильинском-Урусове пропадает каждый вечер, работать невозможно",
            Some("shopsha"),
            R,
            true,
            Some("svyaz"),
            Some("shopsha"),
        ),
        case(
            "В поликлинике к терапевту не записаться, талонов нет на месяц вперёд",
            GY,
            R,
            true,
            Some("zdravoohranenie"),
            GY,
        ),
        case(
            "В садике на Советской детей кормят одними макаронами, повар ворует?",
            GY,
            R,
            true,
            Some("obrazovanie"),
            GY,
        ),
        case(
            "Свалку у леса за Щекотовом так никто и не убрал, весь мусор в ручье",
            Some("shopsha"),
            R,
            true,
            Some("othody"),
            Some("shopsha"),
        ),
    ]);
}

#[test]
fn sarcasm_and_implicit_complaints_count() {
    check(&[
        case(
            "Спасибо нашим дорожникам за прекрасные ямы на Советской, третий диск меняю 👏",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Мост в Спассе «отремонтировали» так, что по нему страшно ходить",
            Some("zayachiy-kholm"),
            R,
            true,
            Some("dorogi"),
            Some("zayachiy-kholm"),
        ),
        case(
            "Ну что, снова вечер на Седова в полной темноте. Стабильность",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
    ]);
}

#[test]
fn not_incidents() {
    check(&[
        case(
            "Уважаемые жители! 3 марта с 9:00 до 16:00 будет отключено электроснабжение на улице Кирова в связи с плановыми работами.",
            None,
            O,
            false,
            None,
            GY,
        ),
        case(
            "Ваше обращение рассмотрено, ямы на ул. Советской будут заделаны до 1 июня.",
            None,
            O,
            false,
            None,
            GY,
        ),
        case(
            "Водоснабжение на улице Калинина восстановлено, бригада завершила работы.",
            GY,
            M,
            false,
            None,
            GY,
        ),
        case(
            "Огромное спасибо водителю автобуса, который дождался бабушку!",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Поздравляем с Днём города! Счастья и добра всем жителям Гаврилов-Яма!",
            None,
            O,
            false,
            None,
            GY,
        ),
        case(
            "Потерялась собака, рыжая дворняжка, откликается на Джек, район Менжинского",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Продаю дрова берёзовые, колотые, с доставкой по району. Недорого",
            GY,
            B,
            false,
            None,
            GY,
        ),
        case(
            "Вывоз мусора, уборка участков, спил деревьев. Звоните по телефону в объявлении",
            GY,
            B,
            false,
            None,
            GY,
        ),
        case(
            "Кто сегодня пойдёт на рыбалку на Которосль? Говорят клюёт",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "В Ярославле на Московском проспекте провалился асфальт, движение ограничено",
            None,
            M,
            false,
            None,
            Some("outside"),
        ),
        case(
            "В Тутаеве третий день нет горячей воды в нескольких домах",
            None,
            M,
            false,
            None,
            Some("outside"),
        ),
        case(
            "В соседнем районе жители жалуются на разбитые дороги",
            None,
            M,
            false,
            None,
            Some("outside"),
        ),
    ]);
}

#[test]
fn places_in_their_russian_forms() {
    check(&[
        case(
            "Из Великого до трассы дорогу не грейдировали с весны, колея по колено",
            None,
            R,
            true,
            Some("dorogi"),
            Some("velikoe"),
        ),
        case(
            "В Заячьем-Холме второй день нет света, холодильники текут",
            None,
            R,
            true,
            Some("energetika"),
            Some("zayachiy-kholm"),
        ),
        case(
            "Урусово опять без связи, ни один оператор не ловит",
            None,
            R,
            true,
            Some("svyaz"),
            Some("shopsha"),
        ),
        case(
            "На Конституции 12 прорвало трубу в подвале, весь подъезд в пару",
            None,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "В Стогинском стадо коров ходит по огородам без пастуха",
            None,
            R,
            true,
            Some("selskoe-hozyaystvo"),
            Some("mitino"),
        ),
        case(
            "Великое спасибо всем, кто помог найти кота! Он дома",
            Some("velikoe"),
            R,
            false,
            None,
            Some("velikoe"),
        ),
        case("Великое спасибо соседям за помощь", GY, R, false, None, GY),
        case(
            "Сходили на поляна за грибами, красота",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "#ГавриловЯм #подслушано Кто знает, во сколько открывается рынок?",
            None,
            R,
            false,
            None,
            GY,
        ),
        case(
            "По всему округу дороги не чищены, автобусы в сёла не ходят",
            None,
            M,
            true,
            Some("dorogi"),
            Some("district"),
        ),
    ]);
}

#[test]
fn urgency() {
    check(&[
        urgent(
            case(
                "СРОЧНО! В подъезде на Победы 5 сильно пахнет газом, никого нет",
                GY,
                R,
                true,
                Some("energetika"),
                GY,
            ),
            true,
        ),
        urgent(
            case(
                "На Кирова оборвался провод и лежит на тротуаре, искрит!",
                GY,
                R,
                true,
                Some("energetika"),
                GY,
            ),
            true,
        ),
        urgent(
            case(
                "Горит сарай в Поляне, огонь идёт к домам, пожарные ещё не приехали",
                Some("velikoe"),
                R,
                true,
                Some("bezopasnost"),
                Some("velikoe"),
            ),
            true,
        ),
        urgent(
            case(
                "На Советской снова яма у магазина, когда заделают?",
                GY,
                R,
                true,
                Some("dorogi"),
                GY,
            ),
            false,
        ),
        urgent(
            case(
                "Когда покрасят лавочки в сквере? Облезли совсем",
                GY,
                R,
                true,
                Some("blagoustroystvo"),
                GY,
            ),
            false,
        ),
    ]);
}

#[test]
fn markup_lookalikes_and_languages() {
    let k = Knowledge::embedded();
    let c = case(
        "[club1|Администрация], нет вoды нa Кирова третий день!",
        GY,
        R,
        true,
        Some("zhkh"),
        GY,
    );
    let u = run(&k, &c);
    assert!(
        u.incident && u.group.as_deref() == Some("zhkh"),
        "{:?}",
        u.reasons
    );
    assert_eq!(u.lang, "ru");
    let u = run(
        &k,
        &case(
            "Коли відремонтують дорогу на Кірова? Ями скрізь",
            GY,
            R,
            true,
            None,
            GY,
        ),
    );
    assert_eq!(u.lang, "uk");
    let u = run(
        &k,
        &case(
            "The bridge over the river is closed again, when will it open?",
            GY,
            R,
            false,
            None,
            GY,
        ),
    );
    assert_eq!(u.lang, "en");
}

#[test]
fn less_common_topics() {
    check(&[
        case(
            "Лифт в нашем доме на Победы стоит уже неделю, бабушка с 5 этажа не может выйти",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "В подвале по колено воды, комары тучами, жить невозможно. УК не реагирует",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Крыша над нашим подъездом протекает, на площадке пятого этажа лужи после каждого дождя",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Во дворе на Строителей спилили все берёзы, кто дал разрешение?",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "Ветром повалило тополь прямо на детскую площадку, лежит второй день",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "На детской площадке сломаны качели и торчат гвозди из горки",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "На пустыре за Шишкина вырос борщевик в человеческий рост, дети бегают рядом",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "Который месяц стоит брошенная ржавая машина во дворе, ни номеров, ни колёс",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "Раскопали тротуар у почты ещё в мае и так и бросили, ходим по грязи",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "В соседнем дворе мужик выгуливает алабая без намордника и поводка, дети боятся",
            GY,
            R,
            true,
            Some("bezopasnost"),
            GY,
        ),
        case(
            "Соседи сверху каждую ночь гуляют, орут, музыка до утра. Полиция не приезжает",
            GY,
            R,
            true,
            Some("bezopasnost"),
            GY,
        ),
        case(
            "На заборе у школы опять написали адрес сайта с закладками",
            GY,
            R,
            true,
            Some("bezopasnost"),
            GY,
        ),
        case(
            "Лиса средь бела дня ходит по улицам Великого, может бешеная?",
            Some("velikoe"),
            R,
            true,
            Some("bezopasnost"),
            Some("velikoe"),
        ),
        case(
            "Ребёнку в первый класс не дают место в школе рядом с домом, отправляют на другой конец города",
            GY,
            R,
            true,
            Some("obrazovanie"),
            GY,
        ),
        case(
            "В школе требуют сдать по 2000 на охрану, это законно?",
            GY,
            R,
            true,
            Some("obrazovanie"),
            GY,
        ),
        case(
            "Учительница орёт на детей и обзывает, дочь боится идти в школу",
            GY,
            R,
            true,
            Some("obrazovanie"),
            GY,
        ),
        case(
            "Почтальон не приносит пенсию уже месяц, в отделении говорят нет денег",
            GY,
            R,
            true,
            Some("svyaz"),
            GY,
        ),
        case(
            "В Митине не ловит ни один телеканал после отключения аналога",
            Some("mitino"),
            R,
            true,
            Some("svyaz"),
            Some("mitino"),
        ),
        case(
            "В магазине у остановки продают просрочку, колбаса с плесенью",
            GY,
            R,
            true,
            Some("bezopasnost"),
            GY,
        ),
        case(
            "Заправка в Шопше вторую неделю без дизеля, трактора стоят",
            Some("shopsha"),
            R,
            true,
            Some("energetika"),
            Some("shopsha"),
        ),
        case(
            "Когда нам в Стогинском проведут газ? Пятый год обещают",
            Some("mitino"),
            R,
            true,
            Some("energetika"),
            Some("mitino"),
        ),
        case(
            "Дрова по программе так и не привезли, а уже заморозки",
            Some("mitino"),
            R,
            true,
            Some("energetika"),
            Some("mitino"),
        ),
        case(
            "Водитель маршрутки гонит под 100 и разговаривает по телефону, страшно ездить",
            GY,
            R,
            true,
            Some("transport"),
            GY,
        ),
        case(
            "Почему проезд до Ярославля подорожал на 30 рублей? Пенсионерам не по карману",
            GY,
            R,
            true,
            Some("transport"),
            GY,
        ),
        case(
            "На остановке у рынка разбиты стёкла павильона и нет лавки",
            GY,
            R,
            true,
            Some("transport"),
            GY,
        ),
        case(
            "Скорая ехала к деду полтора часа, хотя вызывали с инсультом",
            GY,
            R,
            true,
            Some("zdravoohranenie"),
            GY,
        ),
        case(
            "В ФАПе в Спассе нет даже бинтов и зелёнки",
            Some("zayachiy-kholm"),
            R,
            true,
            Some("zdravoohranenie"),
            Some("zayachiy-kholm"),
        ),
        case(
            "Мужу с инвалидностью второй год не могут выдать коляску, соцзащита отфутболивает",
            GY,
            R,
            true,
            Some("sotsialnaya-zashchita"),
            GY,
        ),
        case(
            "На заводе третий месяц не выплачивают зарплату, директор обещает и молчит",
            GY,
            R,
            true,
            Some("trud"),
            GY,
        ),
        case(
            "Река за мостом вся в пене и воняет, с фабрики что-то сливают",
            GY,
            R,
            true,
            Some("ekologiya"),
            GY,
        ),
        case(
            "Лесовозы вывозят лес с опушки за Поляной, валят всё подряд",
            Some("velikoe"),
            R,
            true,
            Some("ekologiya"),
            Some("velikoe"),
        ),
        case(
            "Рядом с домом кто-то начал самовольно строить забор прямо на тротуаре",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "Памятник у клуба в Шопше облупился, надпись не прочитать. Стыдно перед ветеранами",
            Some("shopsha"),
            R,
            true,
            Some("kultura"),
            Some("shopsha"),
        ),
        case(
            "Когда отремонтируют хоккейную коробку? Борта сгнили, дети катаются среди гвоздей",
            GY,
            R,
            true,
            Some("sport"),
            GY,
        ),
        case(
            "Пять месяцев не могу получить ответ по земельному участку для многодетных",
            GY,
            R,
            true,
            Some("zemlya-imushchestvo"),
            GY,
        ),
        case(
            "Коровы соседа опять пасутся на нашем огороде, всю капусту съели",
            Some("zayachiy-kholm"),
            R,
            true,
            Some("selskoe-hozyaystvo"),
            Some("zayachiy-kholm"),
        ),
    ]);
}

#[test]
fn more_things_that_are_not_incidents() {
    check(&[
        case(
            "Администрация округа информирует: приём граждан главой проводится по средам с 14:00",
            None,
            O,
            false,
            None,
            Some("district"),
        ),
        case(
            "Завершён ремонт кровли в школе №2, дети вернутся в отремонтированные классы",
            GY,
            M,
            false,
            None,
            GY,
        ),
        case(
            "Хочу поблагодарить сотрудников ЦРБ за внимательное отношение к маме",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "С Днём учителя, дорогие педагоги! Терпения и вдохновения!",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Отдам котят в добрые руки, к лотку приучены",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Куплю гараж в районе Кирова, недорого, звонить вечером",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Кто знает хорошего мастера по ремонту холодильников? Посоветуйте",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Всем доброе утро! Какая красота сегодня на Которосли, туман над водой",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "В Ростове прорвало теплотрассу, без отопления 20 домов",
            None,
            M,
            false,
            None,
            Some("outside"),
        ),
        case(
            "В Ярославской области стартовала подписная кампания",
            None,
            M,
            false,
            None,
            Some("district"),
        ),
    ]);
}

#[test]
fn colloquial_wordings_of_common_problems() {
    check(&[
        case(
            "Асфальт на Менжинского превратился в решето, ямищи по колено",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "От Седова до вокзала ни одного фонаря, тьма кромешная",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Помойка у дома переполнена, вонь до третьего этажа, когда заберут?",
            GY,
            R,
            true,
            Some("othody"),
            GY,
        ),
        case(
            "С утра кран сухой, ни капли. Что случилось с водой на Калинина?",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Горячку отключили без предупреждения, ребёнка купать нечем",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Напора нет совсем, на третьем этаже вода еле капает",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Свет вырубили в обед и до сих пор не дали, у всех холодильники потекли",
            Some("shopsha"),
            R,
            true,
            Some("energetika"),
            Some("shopsha"),
        ),
        case(
            "Псины стаей носятся по Клубной, вчера за велосипедистом гнались",
            GY,
            R,
            true,
            Some("bezopasnost"),
            GY,
        ),
        case(
            "Сугробы на тротуаре по пояс, с коляской не пройти, одна тропинка",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Маршрутка на Ярославль в 6:40 третий день не ходит, как на работу ехать?",
            GY,
            R,
            true,
            Some("transport"),
            GY,
        ),
        case(
            "Во дворе на Кирова после дождя лужа-озеро, до подъезда не дойти",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "Жители Шопши жалуются, что мусор не вывозят уже две недели",
            None,
            M,
            true,
            Some("othody"),
            Some("shopsha"),
        ),
        case(
            "Жители улицы Чапаева просят отремонтировать дорогу, разбитую грузовиками",
            None,
            M,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Родители учеников школы №3 пожаловались на холод в классах",
            None,
            M,
            true,
            Some("obrazovanie"),
            GY,
        ),
        case(
            "В администрации сообщили, что ремонт дороги на Советской начнётся в июле",
            None,
            M,
            false,
            None,
            GY,
        ),
        case(
            "Прокуратура провела проверку и обязала управляющую компанию отремонтировать кровлю",
            None,
            M,
            false,
            None,
            Some("district"),
        ),
        case(
            "На Которосли открылся пляж, вода прогрелась до 22 градусов",
            None,
            M,
            false,
            None,
            GY,
        ),
    ]);
}

#[test]
fn more_place_traps() {
    check(&[
        case(
            "Из Шопши до города автобус теперь ходит раз в день, на работу не успеть",
            None,
            R,
            true,
            Some("transport"),
            Some("shopsha"),
        ),
        case(
            "Жители Заячье-Холмской территории жалуются на разбитые дороги",
            None,
            M,
            true,
            Some("dorogi"),
            Some("zayachiy-kholm"),
        ),
        case(
            "В Великосельском Доме культуры зимой холодно, кружки отменяют",
            None,
            R,
            true,
            Some("kultura"),
            Some("velikoe"),
        ),
        case(
            "Приехал из Ярославля, а у нас на Кирова опять яма на яме",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Записалась к кардиологу в Ярославль, а тут в поликлинике талонов нет месяцами",
            GY,
            R,
            true,
            Some("zdravoohranenie"),
            GY,
        ),
        case(
            "В Некрасовском районе прорвало водопровод, без воды полпосёлка",
            None,
            M,
            false,
            None,
            Some("outside"),
        ),
        case(
            "В Костромской области из-за паводка закрыли мост",
            None,
            M,
            false,
            None,
            Some("outside"),
        ),
        case(
            "Сходили на поляну у реки, там кострища и мусор кругом",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "На митинге у Вечного огня было много людей, спасибо организаторам",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "У нас в Урусове опять нет света с утра",
            None,
            R,
            true,
            Some("energetika"),
            Some("shopsha"),
        ),
    ]);
}

#[test]
fn everyday_talk_with_topic_words_is_not_an_incident() {
    check(&[
        case(
            "Кто знает, во сколько сегодня работает почта?",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Какие красивые новые фонари поставили на Советской!",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Сегодня в школе был классный концерт, дети молодцы",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Продаю дрова, уголь, доставка по городу",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Вчера гуляли в парке, так хорошо там стало после ремонта",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Наконец-то отремонтировали дорогу до Митина, ехать одно удовольствие",
            Some("mitino"),
            R,
            false,
            None,
            Some("mitino"),
        ),
        case(
            "Автобус до Ярославля сегодня пришёл минута в минуту, приятно",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "Ищу попутчиков до Ярославля в субботу утром",
            GY,
            R,
            false,
            None,
            GY,
        ),
    ]);
}

#[test]
fn questions_and_requests_to_the_authorities() {
    check(&[
        case(
            "Подскажите, будет ли в этом году ремонт дороги на Луначарского?",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Администрация, когда будет горячая вода после летнего отключения?",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Уважаемая администрация, прошу установить лавочки у памятника на Советской",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "Можно ли поставить лежачего полицейского у школы на Победы?",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Планируется ли в Шопше строительство нового ФАПа?",
            Some("shopsha"),
            R,
            true,
            Some("zdravoohranenie"),
            Some("shopsha"),
        ),
        case(
            "В Гаврилов-Яме стартовал ремонт дворов по программе «Формирование комфортной среды»",
            None,
            M,
            false,
            None,
            GY,
        ),
        case(
            "Глава округа провёл встречу с жителями Великого",
            None,
            M,
            false,
            None,
            Some("velikoe"),
        ),
        case(
            "В школах округа начались осенние каникулы",
            None,
            M,
            false,
            None,
            Some("district"),
        ),
    ]);
}

#[test]
fn held_out_batch() {
    check(&[
        case(
            "У нас на Пирогова уже неделю канализация выходит прямо во двор, вонь страшная",
            GY,
            R,
            true,
            Some("zhkh"),
            GY,
        ),
        case(
            "Вечером в Шопше опять погас свет, уже третий раз за неделю",
            Some("shopsha"),
            R,
            true,
            Some("energetika"),
            Some("shopsha"),
        ),
        case(
            "Почему до сих пор не убрали упавшее дерево на Чапаева? Лежит поперёк тротуара",
            GY,
            R,
            true,
            Some("blagoustroystvo"),
            GY,
        ),
        case(
            "На перекрёстке Кирова и Победы светофор не работает с утра, чуть не столкнулись",
            GY,
            R,
            true,
            Some("dorogi"),
            GY,
        ),
        case(
            "Мусорные баки у нас в Великом не опорожняли десять дней",
            Some("velikoe"),
            R,
            true,
            Some("othody"),
            Some("velikoe"),
        ),
        case(
            "Автобус в Митино отменили с понедельника, как теперь добираться до города?",
            Some("mitino"),
            R,
            true,
            Some("transport"),
            Some("mitino"),
        ),
        case(
            "Сосед жжёт покрышки на участке, дым чёрный на всю улицу",
            Some("zayachiy-kholm"),
            R,
            true,
            Some("ekologiya"),
            Some("zayachiy-kholm"),
        ),
        case(
            "В детском саду на Строителей третий месяц течёт крыша в группе",
            GY,
            R,
            true,
            Some("obrazovanie"),
            GY,
        ),
        case(
            "Аптека в Великом закрылась, за лекарствами теперь только в город",
            Some("velikoe"),
            R,
            true,
            Some("zdravoohranenie"),
            Some("velikoe"),
        ),
        case(
            "Дорогу к кладбищу в Спассе развезло, машина с гробом застряла",
            Some("zayachiy-kholm"),
            R,
            true,
            Some("dorogi"),
            Some("zayachiy-kholm"),
        ),
        case(
            "Отличная новость: в Митине заработала новая котельная",
            Some("mitino"),
            M,
            false,
            None,
            Some("mitino"),
        ),
        case(
            "Продам картофель, 10 мешков, Заячий Холм",
            Some("zayachiy-kholm"),
            R,
            false,
            None,
            Some("zayachiy-kholm"),
        ),
        case(
            "Пропала кошка в районе Клубной, трёхцветная, очень ждём",
            GY,
            R,
            false,
            None,
            GY,
        ),
        case(
            "С праздником, дорогие земляки! Мира и добра",
            Some("shopsha"),
            R,
            false,
            None,
            Some("shopsha"),
        ),
        case(
            "В Угличе отремонтировали набережную",
            None,
            M,
            false,
            None,
            Some("outside"),
        ),
    ]);
}
