// Family cards (附属卡, DESIGN §11) on the talent's face: the family cards issued from my
// card, or — on a family card — whose card mine belongs to. Family cards are issued by
// the talent office; this says so, and how many more the card may have.

import { h, mount, groupDigits, dateOnly } from './util.js';
import { t } from './i18n.js';
import { get } from './api.js';
import { chip } from './ui.js';

/** A small mark on the card face: this is a family card. */
export function familyMark(card) {
  if (!card || card.kind !== 'dependent') return null;
  return h('div', { class: 'tc-family', id: 'tc-family', text: t('family.kind') });
}

function memberRow(m) {
  return h('li', { class: 'list-item family-member', dataset: { card: m.card.card_no } },
    h('div', { class: 'li-main' },
      h('div', { class: 'li-title' }, h('span', { text: m.name }), ' ',
        h('span', { class: 'muted small', text: t(`family.relation.${m.relation}`) })),
      h('div', { class: 'li-sub muted small mono', text: groupDigits(m.card.card_no) }),
      h('div', { class: 'li-sub muted small', text: [
        m.has_login ? t('family.has_login') : t('family.printed_only'),
        `${t('card.valid_until')} ${dateOnly(m.card.valid_until)}`,
      ].join(' · ') })),
    h('div', { class: 'li-side' }, chip(m.card.status)));
}

/** The family panel below the card; nothing while offline (it needs the server). */
export function familyPanel(box) {
  (async () => {
    let family;
    try {
      family = await get('/me/family');
    } catch {
      return;
    }
    const title = h('h2', { class: 'panel-title', id: 'family-title', text: t('family.title') });
    if (family.principal) {
      mount(box, h('section', { class: 'panel family', id: 'family', 'aria-labelledby': 'family-title' }, title,
        h('p', { text: t('family.member_of', {
          name: family.principal.name,
          relation: t(`family.relation.${family.principal.relation}`),
        }) })));
      return;
    }
    const live = family.members.filter((m) => ['active', 'suspended'].includes(m.card.status));
    mount(box, h('section', { class: 'panel family', id: 'family', 'aria-labelledby': 'family-title' }, title,
      live.length ? h('ul', { class: 'list' }, family.members.map(memberRow)) : null,
      h('p', { class: 'muted small', text: t('family.how', { n: Math.max(0, family.max_members - live.length), max: family.max_members }) })));
  })();
}
