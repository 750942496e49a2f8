"""The public transparency site: the read model of `simpul report` as static pages a citizen reads at a glance
(Bahasa Indonesia, English optional), with small cells suppressed, CSV/JSON downloads of every table and the
latest signed checkpoint of the transparency log. Built by `simpul site build`, served by `simpul site serve`."""
