"""The report in Japanese, in the words of the RMSprop lecture it follows: Adagrad's jar (瓶)
that only fills, RMSprop's coffee blend (コーヒーブレンド), 減衰率 for the decay rate α and
学習率 for the learning rate. Keys as in :mod:`analysis.strings.en`."""

from __future__ import annotations

HTML_LANG = "ja"
#: IPAexGothic from the matplotlib-fontja wheel, read as a file (importing the package would
#: set the font of the whole process).
FIGURE_FONT = {
    "distribution": "matplotlib-fontja",
    "file": "matplotlib_fontja/fonts/ipaexg.ttf",
    "family": "IPAexGothic",
}
#: After the embedded subset of IPAexGothic: the Japanese fonts of macOS, Linux and Windows.
CSS_FONTS = (
    '"Hiragino Sans","Hiragino Kaku Gothic ProN","Noto Sans CJK JP","Noto Sans JP",'
    '"Yu Gothic","Meiryo",system-ui,sans-serif'
)

TEXT = {
    # report
    "report.title": "オプティマイザ・ラボ報告：{name}",
    # section titles
    "section.findings": "所見",
    "section.study": "研究",
    "section.configuration": "設定",
    "section.end": "学習終了時",
    "section.time": "目標到達までのステップ数",
    "section.decay": "実効学習率の減衰",
    "section.stalls": "停止（瓶がいっぱい）",
    "section.recovery": "分布の変化からの回復",
    "section.figures": "図",
    "section.problems": "発散・失敗したラン",
    "section.methods": "方法",
    # study
    "study.sweep": "`{run_id}`（スイープ ID `{sweep_id}`）",
    "study.no_sweep": "なし：この実験のすべてのジョブのラン",
    "study.experiment": "- 実験：`{name}`（ID {id}）",
    "study.parent": "- スイープの親ラン：{sweep}",
    "study.uri": "- トラッキング URI：`{uri}`",
    "study.commit": "- Git コミット：{commits}",
    "study.unknown": "不明",
    "study.dirty": "（未コミットの変更あり）",
    "study.runs": "- ラン：{n}（{statuses}）；発散：{diverged}",
    "study.status": "{status} {n}",
    "study.configurations": "- 設定の数：{n}；設定ごとのシード数：{seeds}",
    "study.problems": "- 問題：{problems}",
    "study.files": "- 表は CSV で `tables/`（所見は `tables/findings.csv`）、図は PNG・SVG・PDF で "
    "`figures/` にあります",
    "study.generated": "- 作成：{now:%Y-%m-%d %H:%M UTC}",
    # configuration
    "config.swept": "掃引した値（シード：{seeds}）：",
    "config.per_optimizer": "オプティマイザごとの値（それぞれの既定値で、掃引していません）：",
    "config.fixed": "固定した値：",
    # end of training
    "end.text": "各設定の、発散せずに終了したシードでの平均 ± 95 % t 区間の半幅（`n_runs` から "
    "`n_diverged` と `n_failed` を除いた数；シードが 1 つなら区間なし）。選択は検証データで、"
    "判定は取り置いたテストデータで行います。最良値を含むすべての列は "
    "`tables/end_of_training.csv` にあります。",
    # time to target
    "time.text": "問題ごとの目標：最良の設定の最終検証損失の中央値（発散せずに終了したシード）× "
    "(1 + {rel})：{targets}。目標以下になった最初の評価までのステップ数です。到達しなかった、"
    "発散した、失敗したランは ∞ と数えます（AlgoPerf）。シードの中央値です。",
    "time.target": "`{problem}` {target:.4g}",
    # decay
    "decay.text": "学習の後半での log(effective_lr_median) の log(step) に対する傾き："
    "Adagrad は ≈ -0.5（瓶は満ちるだけ）、RMSprop は ≈ 0（ブレンドは古い豆を忘れる）。",
    # stalls
    "stalls.none": "この研究には適応的なオプティマイザがありません：止まるものがありません。",
    "stalls.text": "オプティマイザ自身のステップが縮み（バイアス補正した実効ステップの減衰指数 < "
    "{exponent}）、しかも平滑化した学習損失が問題の学習損失目標より上で終わるとき、そのランは"
    "停止したとします。損失の停滞だけでは停止ではありません。設定ごとに、停止したシード k/n と"
    "その割合の正確な（Clopper-Pearson）95 % 区間を示します。発散・失敗したシードは除きます。"
    "停止ステップ（損失が平らになった所）は停止したシードだけの中央値です。SGD・Momentum・"
    "Nesterov はステップが一定なので載せていません。",
    # recovery
    "recovery.none": "`dataset.shift_step` を設定したランはありません：分布は変化しません。",
    "recovery.text": "学習損失（毎ステップ記録）で、同じ設定・シードの変化なしの対照と比べて："
    "`dataset.shift_step` の後、平滑化した損失が対照との差の跳ね上がりの {share:.0%} 以内に"
    "戻るまでのステップ数。シードの中央値で、戻らなければ ∞ です。",
    "recovery.undefined": "定義できず除いたもの：{reasons}。",
    "recovery.reason": "{n} ラン：{reason}",
    # findings
    "findings.none": "この研究は講義の主張をどれも扱いません（Adagrad と RMSprop が必要です）。",
    "findings.rule": "判定の規則（データを見る前に決めたもの）：",
    "findings.grid_edge": "（グリッドの端）",
    # findings sentences (analysis.findings.to_sentences)
    "sentence": "**{verdict}** — {statement}（{arm}）：{quantity} {effect}；{tail}。",
    "sentence.effect": "{effect} [{low}, {high}]、{level:.3g} % 区間、n={n}",
    "sentence.no_interval": "{effect}（n={n}、区間なし）",
    "sentence.margin": "許容範囲 {margin}",
    "sentence.holm": "Holm 補正した p {p:.2g}",
    "sentence.sign_flip": "（正確な符号反転検定の p {p:.2g}、補正なし）",
    "sentence.split": "データ：{split}",
    "sentence.excluded": "{n} シードを除外（発散・失敗・定義不能）",
    "sentence.seeds_needed": "シードが約 {n} あれば決着します",
    "sentence.recovery_quantity": "回復までのステップ数（{censored} ランは回復せず：残りの"
    "ステップ数、つまり下限として数えた）、シードで対応づけ",
    "sentence.join": "；",
    # problems
    "problems.none": "なし：すべてのランが発散せずに終了しました。",
    # figures
    "figures.none": "この研究に当てはまる図はありません。",
    # methods
    "methods.ci": "- 信頼区間：Student の t、95 %、シードにわたって（曲線はステップごと）。"
    "有限でない値は除きます。",
    "methods.target": "- 目標到達：目標 = 問題ごとの最良の設定の最終値の中央値 × (1 + {rel})。"
    "到達しない、発散した、FINISHED でないときは ∞。",
    "methods.smoothing": "- train_loss の平滑化：ランの {share:.0%} にわたる後ろ向きの平均。",
    "methods.exponent": "- 減衰指数：各ランの後半での log(effective_lr_median) の log(step) に"
    "対する最小二乗の傾き（Adagrad ≈ -0.5、RMSprop ≈ 0）。",
    "methods.stall": "- 停止ステップ：平滑化した学習損失が、学習損失目標より上にいながら、"
    "続くランの {window:.0%} で {threshold:.0%} 未満しか改善しなくなる最初のステップ。",
    "methods.recovery": "- 回復時間：平滑化は変化の時点からやり直します。変化前の水準に"
    "二度と戻らなければ ∞。",
    # captions: pieces
    "cap.seeds": "n = {n} シード",
    "cap.seed": "n = {n} シード",
    "cap.seeds_range": "n = {lo}–{hi} シード",
    "cap.over": "{seeds}の{mean}",
    "cap.one_seed": "（シードが 1 つ：区間も帯もなし）",
    "cap.with_band": "、帯は{band}",
    "cap.none_single": "（シードが 1 つの設定は帯なし）",
    "cap.stopped": "描いたランのうち {n} は途中で止まりました（発散または失敗）：その最後の"
    "ステップより後の帯は残りのシードのものです。",
    "cap.shift": "点線：ステップ {steps} での分布の変化。",
    "cap.left_out": "除いたもの（{why}）：{labels}。",
    "cap.list": "、",
    "cap.geometric_mean": "幾何平均",
    "cap.mean": "平均",
    "cap.band": "95 % t 区間",
    "cap.band_log": "対数の 95 % t 区間",
    "cap.band_log_loss": "損失の対数の 95 % t 区間",
    # captions, one per figure
    "cap.train_loss": "学習損失（各ランの {percent:g} % にわたる後ろ向きの平均）",
    "cap.val_loss": "検証損失",
    "cap.and": "と",
    "cap.loss": "{what}（対数目盛）、各ラベルで最もよく調整された学習率（凡例の lr）："
    "{over}。{notes}",
    "cap.accuracy": "検証正解率、各ラベルで最もよく調整された学習率（凡例の lr）：{over}。{notes}",
    "cap.effective_lr": "パラメータにわたる実効ステップ幅の中央値（両対数）、各ラベルで最もよく"
    "調整された学習率：{seeds}の幾何平均；{band}。破線：∝ t^(-1/2)、一定の勾配での Adagrad "
    "のステップの減衰（瓶は満ちるだけ）で、Adagrad の曲線の最初の点を通ります。{left_out}",
    "cap.effective_lr.quantiles": "帯はパラメータにわたる p10 から p90（シードの幾何平均）",
    "cap.effective_lr.ci": "帯はシードにわたる対数の 95 % t 区間",
    "cap.effective_lr.why": "適応的な蓄積がない：ステップは lr のまま",
    "cap.accumulator": "勾配の2乗の蓄積（Adagrad と RMSprop は h、Adam は v）の平均（対数目盛）、"
    "各ラベルで最もよく調整された学習率：{over}。Adagrad は勾配の2乗をすべて足し続け"
    "（いっぱいになるだけの瓶）、RMSprop と Adam は移動平均を保ちます（毎日のコーヒー"
    "ブレンド）。{left_out}",
    "cap.accumulator.why": "蓄積がない",
    "cap.sensitivity": "学習率に対する最終検証損失（両対数）：発散せずに終了したシードごとに点"
    "（学習率ごとに {seeds}）、その中央値を結ぶ線；{crosses}。",
    "cap.sensitivity.crosses": "上端の × {n} 個：発散・失敗したシード",
    "cap.sensitivity.none": "発散したものはなし",
    "cap.heatmap": "RMSprop：学習率 × 減衰率 α ごとの最終検証損失の中央値、各セルの発散せずに"
    "終了したシードにわたって（セルごとに {seeds}）。",
    "cap.trajectories": "2 次元のテスト関数上の各オプティマイザの経路：ラベルごとに 1 ラン、"
    "最終損失が最も低い学習率の最小のシード。星印：最小点。",
    "cap.profile": "{problems} 問題にわたる性能プロファイル：ラベルの最速の学習率（凡例）が目標"
    "（検証損失 ≤ 最良の設定の最終値の中央値 × {factor:g}）に、最速のラベルのステップ数の τ 倍"
    "以内で到達する問題の割合（シードの中央値）。到達しなければ ∞ と数えます。",
    # figure labels
    "fig.step": "ステップ",
    "fig.step_t": "ステップ t",
    "fig.smoothed": "{metric}（平滑化）",
    "fig.effective_lr": "実効ステップ幅の中央値",
    "fig.accumulator": "蓄積の平均（h または v）",
    "fig.lr": "学習率",
    "fig.failed": "発散・失敗",
    "fig.median": "{metric}の中央値",
    "fig.decay_rate": "減衰率 α",
    "fig.tau": "τ（目標到達ステップ数 ÷ 最速）",
    "fig.fraction": "問題の割合",
    "fig.profile": "性能プロファイル（{metric}の目標）",
    # animations
    "anim.step_of": "ステップ {step} / {last}",
    "anim.h": "蓄積 h",
    "anim.effective_step": "実効ステップ幅 lr/(√h + ε)",
    "anim.entry": "{label}：{what}",
    "anim.entry.adagrad": "瓶（h ← h + g²）",
    "anim.entry.rmsprop": "ブレンド（h ← αh + (1 − α)g²）",
    "anim.paths": "{labels}：{functions}の等高線上の各オプティマイザの経路（★ は最小点）、"
    "ステップ 0 から {last} まで、進んだとおりに描きます。各経路は軌跡の図と同じランで、凡例の"
    "学習率のもの（試した学習率のうち最終値が最も低いもの。発散したランは最後）。{frames} "
    "フレーム：ステップ {dense} までは毎ステップ、その後は等比の間隔。最後のフレームは "
    "{hold:g} 秒止まります。",
    "anim.quiet": "、ステップ {step} から × {scale:g}（点線）",
    "anim.end": "{label} h = {h:.3g}、ステップ幅 {step:.3g}",
    "anim.jar": "瓶が満ちていく：Adagrad の蓄積 h は満ちるだけ（h ← h + g²）、RMSprop の h は"
    "コーヒーブレンド（h ← αh + (1 − α)g²、減衰率 α = {alphas}）。どちらも同じ {last} ステップ"
    "の勾配列（{stream}）を受け取ります。下段は lr = {lr:g} での各々の実効ステップ幅 "
    "lr/(√h + ε)。ステップ {last} で：{ends}。{frames} フレーム、等間隔。",
}

HEADERS = {
    "label": "ラベル",
    "problem": "問題",
    "n_runs": "ラン数",
    "n_diverged": "発散",
    "n_failed": "失敗",
    "final_val_loss": "最終検証損失",
    "final_test_loss": "最終テスト損失",
    "final_test_accuracy": "最終テスト正解率",
    "median_steps": "ステップ数の中央値",
    "reached": "到達",
    "recovered": "回復",
    "stalled": "停止",
    "median_stall_step": "停止ステップの中央値（停止したもの）",
    "decay_exponent_ci": "減衰指数（平均 ± CI）",
    "lr_selected": "学習率（検証で選択）",
    "change": "変化",
    "seeds_ok": "正常なシード",
    "final_val_loss_ci": "最終検証損失（平均 ± 95 % CI）",
    "final_test_loss_ci": "最終テスト損失（平均 ± 95 % CI）",
    "param": "パラメータ",
    "values": "値",
    "value": "値",
    "run_name": "ラン名",
    "run_id": "ラン ID",
    "seed": "シード",
    "status": "状態",
    "diverged": "発散",
    "diverged_step": "発散ステップ",
    "reason": "理由",
    "optimizer.lr": "学習率",
    "optimizer.decay_rate": "減衰率",
}

TERMS = {
    # metrics, as figure labels
    "train_loss": "学習損失",
    "val_loss": "検証損失",
    "val_accuracy": "検証正解率",
    "final_val_loss": "最終検証損失",
    # verdicts (analysis.verdicts)
    "held": "成立",
    "did not hold": "不成立",
    "unresolved": "未決着",
    # splits
    "test": "テスト",
    "train": "学習",
    "n/a": "該当なし",
    # quantities (analysis.findings)
    "decay exponent of the effective step": "実効ステップの減衰指数",
    "final test loss, paired by seed": "最終テスト損失の差、シードで対応づけ",
    "relative final test loss, paired by seed": "最終テスト損失の相対差、シードで対応づけ",
}

STATEMENTS = {
    "adagrad_decays": "Adagrad の実効ステップは t^(-1/2) のように減衰する（瓶は満ちるだけ）",
    "rmsprop_steady": "RMSprop の実効ステップは減衰しない（ブレンドは過去を少しずつ忘れる）",
    "stall_costs": "Adagrad の停止は、最良の RMSprop に比べて最終テスト損失で損をする",
    "alpha_matters": "減衰率が効く：最悪の α は最良の α より悪い損失で終わる",
    "alpha_works": "α = 0.9 か 0.99 で上手くいく：最良の α のテスト損失の 2 % 以内",
    "recovers_faster": "変化の後、RMSprop は Adagrad より早く回復する",
}

RULE = (
    "差の主張は、シードごとの差で検定します（同じシードのアームは初期値とバッチの順序が同じ）："
    "この表の差の主張の中での順位に応じた Holm 補正の水準での対応のある Student の t 区間に、"
    "正確な符号反転検定の p を添えます。区間が主張の向きに 0 を含まなければ成立、逆向きに 0 を"
    "含まなければ不成立、それ以外は未決着",
    "差がない、またはある値だという主張には同等性の許容範囲を定めます：95 % 区間全体がその中に"
    "あれば成立、区間全体が外にあれば不成立、それ以外は未決着",
    "区間にはすべて n を示します。n < 2 なら区間はなく、主張は未決着です。未決着の主張の "
    "seeds_needed は、同じ平均とばらつきで決着する n です",
    "学習率（と最良の RMSprop の α）は検証損失で選び、損失の判定は取り置いたテストデータで行います",
)
