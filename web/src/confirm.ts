/**
 * Ask before a step that cannot be undone (delete a volume, detach a disk, delete a server): a
 * modal dialog that names what will happen to what; Escape or Cancel keeps everything as it is.
 */
import { h } from './dom.ts';

/** Resolves true when the user confirmed. */
export function confirmAction(title: string, body: string, action: string): Promise<boolean> {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: 'danger', id: 'confirm-yes' }, action);
    const no = h('button', { type: 'button', id: 'confirm-no', autofocus: true }, 'Cancel');
    const dialog = h('dialog', { id: 'confirm', 'aria-labelledby': 'confirm-title' }, h('h2', { id: 'confirm-title' }, title), h('p', {}, body), h('div', { class: 'actions' }, no, yes));
    let answer = false;
    yes.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    no.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
